// HeldPulls: pulls that found nothing and wait, up to their hold time, for an interaction to
// arrive. The service offers them interactions after every request (oldest pull first, so the
// one that waited longest is served first); a pull whose hold time passes is answered with an
// empty EventPulled. Pulls of closed sessions are dropped. Owned by the ServiceContext;
// loop thread only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "node/server/client_session.h"
#include "node/server/clock.h"
#include "node/server/compiled_view.h"

namespace ix::node {

class HeldPulls {
 public:
  struct Pull {
    ClientSession* session;
    uint64_t ref_id, client_id;
    std::vector<std::string> queues;
    const CompiledView* view;  // null for a pull from one queue
    uint32_t count;
    uint64_t deadline_id = 0;
  };
  using IsOpen = std::function<bool(const ClientSession*)>;
  // Tries to serve a pull; returns true when it took interactions (and answered).
  using Serve = std::function<bool(const Pull&)>;

  HeldPulls(Clock& clock, IsOpen is_open)
      : deadlines_(clock.make_deadlines([this](uint64_t id) { expire(id); })), is_open_(std::move(is_open)) {}

  void hold(Pull pull, uint64_t hold_ms) {
    pull.deadline_id = ++next_id_;
    deadlines_->start(pull.deadline_id, hold_ms);
    pulls_.push_back(std::move(pull));
  }
  bool empty() const { return pulls_.empty(); }
  size_t size() const { return pulls_.size(); }

  // Offers every held pull, oldest first, to serve; drops the served ones and those of closed
  // sessions.
  void serve(const Serve& serve) {
    for (size_t i = 0; i < pulls_.size();) {
      if (!is_open_(pulls_[i].session) || serve(pulls_[i])) {
        deadlines_->cancel(pulls_[i].deadline_id);
        pulls_.erase(pulls_.begin() + static_cast<ptrdiff_t>(i));
        continue;
      }
      ++i;
    }
  }
  // Answers every held pull with an empty result (the views they point at are being replaced).
  void answer_all_empty() {
    for (const Pull& pull : pulls_) {
      deadlines_->cancel(pull.deadline_id);
      answer_empty(pull);
    }
    pulls_.clear();
  }
  // Drops every pull without answering (the service is stopping).
  void clear() {
    deadlines_->clear();
    pulls_.clear();
  }

 private:
  void expire(uint64_t id) {
    auto it = std::find_if(pulls_.begin(), pulls_.end(), [&](const Pull& p) { return p.deadline_id == id; });
    if (it == pulls_.end()) return;
    const Pull pull = std::move(*it);
    pulls_.erase(it);
    answer_empty(pull);
  }
  void answer_empty(const Pull& pull) {
    if (is_open_(pull.session)) pull.session->send(wire::encode_frame(pull.ref_id, pull.client_id, proto::EventPulledT{}));
  }

  std::unique_ptr<Deadlines> deadlines_;
  IsOpen is_open_;
  std::vector<Pull> pulls_;  // oldest first
  uint64_t next_id_ = 0;
};

}  // namespace ix::node
