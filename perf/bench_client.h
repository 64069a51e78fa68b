// bench::Client: one registered protocol connection for benchmarks — requests with a window in
// flight, latencies at a fixed rate, and a count of reporting events received. Runs on the
// caller's loop; exits the program on a protocol error (a benchmark that fails must say so).
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "protocol/net/connection.h"
#include "protocol/net/timer.h"
#include "protocol/wire/messages.h"
#include "tests/support/frame_peers.h"

namespace ix::bench {

// The cluster file of the node benchmarks: one pair, `bench` (tag b1), serving tenant 101 and chat
// from one SQLite file, with its primary at ports[0..1] and its backup at ports[2..3] (port, admin
// port), a queue `inbound`, and max-live-interactions = limit.
inline std::string one_pair_config(const std::vector<uint16_t>& ports, uint64_t limit) {
  auto endpoint = [&](const char* section, size_t at) {
    return std::string("[") + section + "]\nhost = \"127.0.0.1\"\nport = " + std::to_string(ports[at]) +
           "\nadmin-port = " + std::to_string(ports[at + 1]) + "\n";
  };
  return "[[tenants]]\nid = \"101\"\n[[media-types]]\nname = \"chat\"\n[[node-pairs]]\nid = \"bench\"\ntag = \"b1\"\n"
         "tenants = [\"101\"]\n" +
         endpoint("node-pairs.primary", 0) + endpoint("node-pairs.backup", 2) +
         "[node-pairs.storage]\nsqlite-path = \"bench.db\"\n[node-pairs.settings]\nmax-live-interactions = " +
         std::to_string(limit) + "\n[[queues]]\nid = \"inbound\"\ntenant = \"101\"\n";
}

class Client {
 public:
  Client(uv_loop_t* loop, uint16_t port, proto::ClientType type = proto::ClientType::MediaServer) : loop_(loop) {
    for (int attempt = 0; attempt < 400 && !ready_; ++attempt) {
      connection_ = test::connect_to(loop, port);
      connection_->set_on_data([this](std::span<const uint8_t> d) {
        decoder_.feed(d, [this](std::span<const uint8_t> payload) { on_frame(payload); });
      });
      connection_->write(wire::encode_register_client(0, type, "bench", {}));
      const uint64_t until = uv_hrtime() + 50'000'000;
      while (!ready_ && uv_hrtime() < until) uv_run(loop, UV_RUN_NOWAIT);
      if (!ready_) connection_->abort("retry");
    }
    if (!ready_) {
      std::fprintf(stderr, "cannot register on port %u\n", port);
      std::exit(1);
    }
  }
  ~Client() { connection_->abort("done"); }

  // Requests per second with `window` in flight.
  double throughput(const std::function<wire::Frame(uint64_t ref)>& make, int requests, int window) {
    const uint64_t start = uv_hrtime();
    int sent = 0;
    replies_ = 0;
    while (replies_ < requests) {
      while (sent < requests && sent - replies_ < window) {
        connection_->write(make(++ref_));
        ++sent;
      }
      uv_run(loop_, UV_RUN_ONCE);
    }
    return requests / (static_cast<double>(uv_hrtime() - start) / 1e9);
  }

  // Requests per second over several clients on the same loop, `window` in flight on each,
  // `requests` in all (spread evenly).
  static double throughput(const std::vector<Client*>& clients, const std::function<wire::Frame(uint64_t ref)>& make,
                           int requests, int window) {
    const int each = std::max(1, requests / static_cast<int>(clients.size()));
    const uint64_t start = uv_hrtime();
    std::vector<int> sent(clients.size(), 0);
    for (Client* c : clients) c->replies_ = 0;
    for (;;) {
      bool done = true;
      for (size_t i = 0; i < clients.size(); ++i) {
        Client& c = *clients[i];
        while (sent[i] < each && sent[i] - c.replies_ < window) {
          c.connection_->write(make(++c.ref_));
          ++sent[i];
        }
        done = done && c.replies_ >= each;
      }
      if (done) break;
      uv_run(clients.front()->loop_, UV_RUN_ONCE);
    }
    return static_cast<double>(each) * static_cast<double>(clients.size()) / (static_cast<double>(uv_hrtime() - start) / 1e9);
  }

  // Latencies (µs) of `requests` requests sent at `rate` per second.
  std::vector<double> latencies(const std::function<wire::Frame(uint64_t ref)>& make, int requests, int rate) {
    latencies_.clear();
    sent_at_.clear();
    replies_ = 0;
    net::Timer tick(loop_);
    int sent = 0;
    const uint64_t start = uv_hrtime();
    std::function<void()> on_tick = [&] {
      const double elapsed = static_cast<double>(uv_hrtime() - start) / 1e9;
      const int due = std::min(requests, static_cast<int>(elapsed * rate));
      while (sent < due) {
        sent_at_[++ref_] = uv_hrtime();
        connection_->write(make(ref_));
        ++sent;
      }
      if (sent < requests) tick.start(1, on_tick);
    };
    tick.start(1, on_tick);
    while (static_cast<int>(latencies_.size()) < requests) uv_run(loop_, UV_RUN_ONCE);
    std::sort(latencies_.begin(), latencies_.end());
    return latencies_;
  }

  // Sends one request without waiting (a subscription) and runs the loop until done() holds.
  void send(const wire::Frame& frame) { connection_->write(frame); }
  void run_until(const std::function<bool()>& done) {
    while (!done()) uv_run(loop_, UV_RUN_ONCE);
  }

  std::string last_id;          // of the last EventSubmitted or EventSnapshotTaken
  size_t last_page_size = 0;    // interactions in the last EventSnapshotPage
  uint64_t reporting_events = 0;  // reporting events received (ref_id 0)

 private:
  void on_frame(std::span<const uint8_t> payload) {
    auto e = wire::verify_envelope(payload);
    if (!e.ok()) return;
    const proto::Envelope* envelope = *e;
    if (envelope->body_type() == proto::Message::EventClientRegistered) {
      ready_ = true;
      return;
    }
    if (const proto::EventError* error = envelope->body_as_EventError()) {
      std::fprintf(stderr, "error %d: %s\n", error->code(), error->text() ? error->text()->c_str() : "");
      std::exit(1);
    }
    if (envelope->ref_id() == 0 && wire::reporting_header(*envelope)) {
      ++reporting_events;
      return;
    }
    if (const proto::EventSubmitted* submitted = envelope->body_as_EventSubmitted()) last_id = submitted->interaction_id()->str();
    if (const proto::EventSnapshotTaken* taken = envelope->body_as_EventSnapshotTaken()) last_id = taken->snapshot_id()->str();
    if (const proto::EventSnapshotPage* page = envelope->body_as_EventSnapshotPage()) {
      last_page_size = page->interactions() ? page->interactions()->size() : 0;
    }
    ++replies_;
    auto it = sent_at_.find(envelope->ref_id());
    if (it != sent_at_.end()) {
      latencies_.push_back(static_cast<double>(uv_hrtime() - it->second) / 1e3);
      sent_at_.erase(it);
    }
  }

  uv_loop_t* loop_;
  std::shared_ptr<net::Connection> connection_;
  wire::FrameDecoder decoder_;
  bool ready_ = false;
  int replies_ = 0;
  uint64_t ref_ = 0;
  std::unordered_map<uint64_t, uint64_t> sent_at_;
  std::vector<double> latencies_;
};

}  // namespace ix::bench
