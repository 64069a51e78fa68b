#include "tools/ixengage/proactive_submitter.h"

#include <iostream>

#include "protocol/wire/kv.h"

namespace ix::engage {

ProactiveSubmitter::ProactiveSubmitter(uv_loop_t* loop, std::vector<ProxyAddress> proxies, std::string queue,
                                       std::string virtual_queue_key)
    : loop_(loop), queue_(std::move(queue)), virtual_queue_key_(std::move(virtual_queue_key)) {
  for (ProxyAddress& address : proxies) {
    auto link = std::make_unique<Link>();
    link->address = std::move(address);
    link->retry = std::make_unique<net::Timer>(loop_);
    links_.push_back(std::move(link));
  }
}

ProactiveSubmitter::~ProactiveSubmitter() { stop(); }

void ProactiveSubmitter::start() {
  for (auto& link : links_) open(*link);
}

void ProactiveSubmitter::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& link : links_) {
    link->retry->stop();
    link->ready = false;
    if (link->session) link->session->close();
  }
}

void ProactiveSubmitter::open(Link& link) {
  if (stopped_) return;
  tools::Session::Options o;
  o.endpoint = link.address.endpoint;
  o.tls = link.address.tls;
  o.client_type = proto::ClientType::MediaServer;
  o.client_name = "ixengage proactive chats";
  link.session = std::make_unique<tools::Session>(loop_, o);
  link.session->set_on_closed([this, &link](const std::string& reason) { reopen_later(link, "connection lost: " + reason); });
  link.session->open([this, &link](Result<tools::Reply> reply) {
    if (!reply) return reopen_later(link, reply.error().text);
    if (reply->error()) return reopen_later(link, "registration refused: " + reply->error()->text);
    link.ready = true;
    link.failure_reported = false;
    std::cerr << "ixengage: connected to proxy " << link.address.endpoint.to_string() << std::endl;
  });
}

void ProactiveSubmitter::reopen_later(Link& link, const std::string& why) {
  const bool was_ready = link.ready;
  link.ready = false;
  link.last_error = why;
  if (stopped_ || link.retry->active()) return;
  // One line per change: lost after being connected, or the first failed attempt since.
  if (was_ready || !link.failure_reported) {
    std::cerr << "ixengage: proxy " << link.address.endpoint.to_string() << ": " << why << "; retrying every second" << std::endl;
    link.failure_reported = true;
  }
  // The old session is replaced from the timer, never from inside its own callback.
  link.retry->start(1000, [this, &link] { open(link); });
}

void ProactiveSubmitter::submit(const ProactiveChat& chat, Done done) {
  Link* link = nullptr;
  for (size_t i = 0; i < links_.size() && link == nullptr; ++i) {
    Link& candidate = *links_[(next_ + i) % links_.size()];
    if (candidate.ready) {
      link = &candidate;
      next_ = (next_ + i + 1) % links_.size();
    }
  }
  if (link == nullptr) {
    // Deferred like any answer: callbacks never run from inside the call.
    auto timer = std::make_shared<net::Timer>(loop_);
    const std::string why = links_.empty() ? "no proxy to submit through" : "no proxy connected";
    timer->start(0, [timer, done = std::move(done), why]() mutable { done(Error{0, why}); });
    return;
  }
  proto::RequestSubmitT r;
  r.tenant_id = chat.tenant;
  r.media_type = chat.media;
  r.queue = queue_;
  r.interaction_type = "Outbound";
  r.interaction_subtype = "Proactive";
  r.user_data = wire::kv_list({{"ixengage-invitation", static_cast<int64_t>(chat.invitation)}, {"proactive", 1}});
  wire::kv_set(*r.user_data, {virtual_queue_key_, chat.virtual_queue});
  link->session->request(r, [link, done = std::move(done)](Result<tools::Reply> reply) {
    if (!reply || reply->error()) {
      ++link->failures;
      link->last_error = reply ? reply->error()->text : reply.error().text;
      return done(Error{reply ? reply->error()->code : 0, link->last_error});
    }
    ++link->submitted;
    done(std::string(reply->envelope->body.AsEventSubmitted()->interaction_id));
  });
}

nlohmann::json ProactiveSubmitter::state() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& link : links_) {
    out.push_back({{"proxy", link->address.endpoint.to_string()},
                   {"connected", link->ready},
                   {"submitted", link->submitted},
                   {"failures", link->failures},
                   {"last_error", link->last_error}});
  }
  return out;
}

}  // namespace ix::engage
