#include "proxy/pacing/pacing_master.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <mutex>

namespace ix::pacing {

namespace {

int64_t wall_clock_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t to_ms(config::Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

MasterLeaseOptions lease_options(const config::PacingService& pacing, const std::string& proxy_id) {
  MasterLeaseOptions o;
  o.name = "pacing-master";
  o.holder = proxy_id;
  o.ttl_ms = to_ms(pacing.lease_ttl);
  return o;
}

}  // namespace

// Lease answers from worker 0, handed to the module's loop. Shared with the callbacks, so an
// answer that arrives after stop() finds `async` gone and is dropped.
struct PacingMaster::Mailbox {
  std::mutex mutex;
  uv_async_t* async = nullptr;
  std::deque<std::function<void()>> queue;
};

PacingMaster::PacingMaster(const config::PacingService& pacing, std::string proxy_id, metrics::Registry& metrics)
    : pacing_(pacing),
      proxy_id_(std::move(proxy_id)),
      lease_(lease_options(pacing_, proxy_id_)),
      alarms_(pacing_.alarms, metrics),
      mailbox_(std::make_shared<Mailbox>()) {
  master_gauge_ = &metrics.gauge("ix_pacing_master", "1 while this proxy is the pacing master (the one that posts).");
  fencing_gauge_ = &metrics.gauge("ix_pacing_fencing_token", "Fencing number of the pacing lease as last known.");
  const char* help = "Posts of pacing decisions to the engagement service, by result.";
  posts_ok_ = &metrics.counter("ix_pacing_posts_total", help, {{"result", "ok"}});
  posts_failed_ = &metrics.counter("ix_pacing_posts_total", help, {{"result", "failed"}});
  posts_invalid_ = &metrics.counter("ix_pacing_posts_total", help, {{"result", "invalid"}});
  posts_target_errors_ = &metrics.counter("ix_pacing_posts_total", help, {{"result", "target_errors"}});
  post_seconds_ = &metrics.histogram("ix_pacing_post_seconds", "Time of one post to the engagement service, token included.",
                                     metrics::latency_buckets_seconds());
}

PacingMaster::~PacingMaster() { stop(); }

int64_t PacingMaster::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

void PacingMaster::start(uv_loop_t* loop, LeaseFunction lease, std::function<void()> on_change) {
  loop_ = loop;
  lease_function_ = std::move(lease);
  on_change_ = std::move(on_change);

  auto* async = new uv_async_t;
  uv_async_init(loop_, async, [](uv_async_t* handle) {
    auto* mailbox = static_cast<Mailbox*>(handle->data);
    std::deque<std::function<void()>> work;
    {
      std::lock_guard lock(mailbox->mutex);
      work.swap(mailbox->queue);
    }
    for (auto& w : work) w();
  });
  async->data = mailbox_.get();
  {
    std::lock_guard lock(mailbox_->mutex);
    mailbox_->async = async;
  }

  build_client();
  lease_timer_ = std::make_unique<net::Timer>(loop_);
  tick();
}

void PacingMaster::build_client() {
  client_.reset();
  client_error_.clear();
  rebuild_client_ = false;
  EngagementOptions options;
  options.base_urls = pacing_.base_urls;
  options.target_endpoint = pacing_.target_endpoint;
  options.auth_url = pacing_.auth_url;
  options.ca_file = pacing_.ca_file;
  options.node_id = proxy_id_;
  if (pacing_.forward_proxy) options.forward_proxy = net::Endpoint{pacing_.forward_proxy->host, pacing_.forward_proxy->port};
  Result<Credentials> credentials = load_credentials(pacing_.credentials_file, pacing_.credentials_env);
  if (!credentials) {
    client_error_ = credentials.error().text;
  } else {
    options.client_id = credentials->client_id;
    options.client_secret = credentials->client_secret;
    Result<std::unique_ptr<EngagementClient>> client = EngagementClient::create(loop_, std::move(options));
    if (client) {
      client_ = std::move(client).value();
    } else {
      client_error_ = client.error().text;
    }
  }
  if (!client_) spdlog::error("event=pacing_endpoint_unusable reason=\"{}\"", client_error_);
}

void PacingMaster::reconfigure(const config::PacingService& pacing) {
  auto same_proxy = [](const std::optional<config::ForwardProxy>& a, const std::optional<config::ForwardProxy>& b) {
    return a.has_value() == b.has_value() && (!a || (a->host == b->host && a->port == b->port));
  };
  if (pacing.base_urls != pacing_.base_urls || pacing.target_endpoint != pacing_.target_endpoint ||
      !same_proxy(pacing.forward_proxy, pacing_.forward_proxy)) {
    rebuild_client_ = true;
  }
  pacing_.base_urls = pacing.base_urls;
  pacing_.target_endpoint = pacing.target_endpoint;
  pacing_.forward_proxy = pacing.forward_proxy;
  pacing_.http_timeout = pacing.http_timeout;
  pacing_.refresh_period = pacing.refresh_period;
  pacing_.alarms = pacing.alarms;
  alarms_.set_thresholds(pacing_.alarms);
  spdlog::info("event=pacing_master_reconfigured http_timeout_ms={} new_endpoint={}", to_ms(pacing_.http_timeout),
               rebuild_client_ ? "true" : "false");
}

void PacingMaster::stop() {
  if (!loop_) return;
  if (std::optional<MasterLease::Request> release = lease_.release(now_ms())) {
    spdlog::info("event=pacing_master_released fencing={}", lease_.fencing());
    send(std::move(*release));  // the answer is not waited for
  }
  master_gauge_->set(0);
  {
    std::lock_guard lock(mailbox_->mutex);
    if (mailbox_->async) {
      uv_close(reinterpret_cast<uv_handle_t*>(mailbox_->async), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
      mailbox_->async = nullptr;
      mailbox_->queue.clear();
    }
  }
  lease_timer_.reset();
  client_.reset();  // cancels a post in flight without calling back
  loop_ = nullptr;
}

void PacingMaster::tick() {
  const int64_t now = now_ms();
  const bool was_master = master_gauge_->value() > 0;
  if (std::optional<MasterLease::Request> request = lease_.tick(now)) send(std::move(*request));
  const bool master = lease_.is_master(now);
  if (master && !was_master) {
    spdlog::info("event=pacing_master_acquired fencing={} lease_pair={}", lease_.fencing(), pacing_.lease_pair);
  } else if (!master && was_master) {
    spdlog::warn("event=pacing_master_lost fencing={} holder=\"{}\"", lease_.fencing(), lease_.holder());
  }
  master_gauge_->set(master ? 1 : 0);
  fencing_gauge_->set(static_cast<double>(lease_.fencing()));
  arm_timer();
  if (master != was_master || lease_.holder() != seen_holder_ || lease_.fencing() != seen_fencing_) {
    seen_holder_ = lease_.holder();
    seen_fencing_ = lease_.fencing();
    if (on_change_) on_change_();
  }
}

void PacingMaster::arm_timer() {
  const int64_t wait = std::clamp<int64_t>(lease_.next_due() - now_ms(), 1, lease_.tick_interval());
  lease_timer_->start(static_cast<uint64_t>(wait), [this] { tick(); });
}

void PacingMaster::send(MasterLease::Request request) {
  const uint64_t id = request.id;
  lease_function_(std::move(request), [mailbox = mailbox_, this, id](MasterLease::Reply reply) {
    std::lock_guard lock(mailbox->mutex);
    if (!mailbox->async) return;  // stopped
    mailbox->queue.push_back([this, id, reply = std::move(reply)] {
      lease_.on_reply(id, reply, now_ms());
      tick();
    });
    uv_async_send(mailbox->async);
  });
}

void PacingMaster::post(const std::vector<TargetDecision>& decisions, double interval_seconds,
                        DoneCallback on_done) {
  const int64_t now = now_ms();
  if (!loop_ || !lease_.is_master(now)) return;
  const Clock::time_point started = Clock::now();
  if (rebuild_client_ && !(client_ && client_->busy())) build_client();
  if (!client_) {
    PostResult failed;
    failed.reason = client_error_;
    finished(failed, started, on_done);
    return;
  }
  if (client_->busy()) {
    spdlog::warn("event=pacing_post_skipped reason=\"the previous post is still running\"");
    return;
  }
  // Never past http-timeout, and never past the mastership it starts under.
  const int64_t budget_ms = std::min(to_ms(pacing_.http_timeout), lease_.valid_until() - now);
  client_->post_targets(decisions, lease_.fencing(), interval_seconds, started + std::chrono::milliseconds(budget_ms),
                        [this, started, on_done = std::move(on_done)](PostResult result) {
                          finished(result, started, on_done);
                        });
}

void PacingMaster::finished(const PostResult& result, Clock::time_point started, const DoneCallback& on_done) {
  post_seconds_->observe(std::chrono::duration<double>(Clock::now() - started).count());
  PostOutcome outcome;
  outcome.detail = result.reason;
  switch (result.outcome) {
    case PostResult::Outcome::kFailed:
      outcome.kind = PostOutcome::Kind::kFailed;
      posts_failed_->inc();
      last_result_ = "failed";
      spdlog::warn("event=pacing_post_failed fencing={} reason=\"{}\"", lease_.fencing(), result.reason);
      break;
    case PostResult::Outcome::kInvalid:
      outcome.kind = PostOutcome::Kind::kInvalid;
      posts_invalid_->inc();
      last_result_ = "invalid";
      spdlog::warn("event=pacing_post_invalid url={} reason=\"{}\"", result.url, result.reason);
      break;
    case PostResult::Outcome::kOk:
      outcome.kind = PostOutcome::Kind::kAnswered;
      outcome.target_errors = result.errors.size();
      if (result.errors.empty()) {
        posts_ok_->inc();
        last_result_ = "ok";
      } else {
        const TargetError& first = result.errors.front();
        outcome.detail = first.id + ": " + first.code + (first.message.empty() ? "" : " (" + first.message + ")");
        if (result.errors.size() > 1) outcome.detail += " and " + std::to_string(result.errors.size() - 1) + " more";
        posts_target_errors_->inc();
        last_result_ = "target_errors";
        spdlog::warn("event=pacing_post_target_errors url={} targets={} first=\"{}\"", result.url, result.errors.size(),
                     outcome.detail);
      }
      break;
  }
  last_post_at_us_ = wall_clock_us();
  last_detail_ = outcome.detail;
  ++posts_;
  alarms_.record(outcome, last_post_at_us_);
  on_done(result);
}

nlohmann::json PacingMaster::status() const {
  const int64_t now = now_ms();
  nlohmann::json master = {{"holder", lease_.holder()},
                           {"is_master", lease_.is_master(now)},
                           {"fencing", lease_.fencing()},
                           {"lease_pair", pacing_.lease_pair},
                           {"lease_ttl_ms", lease_.options().ttl_ms}};
  if (std::optional<int64_t> since = lease_.master_since(now)) master["since_us"] = wall_clock_us() - (now - *since) * 1000;
  nlohmann::json post = {{"posts", posts_}};
  if (posts_ > 0) post.update({{"at_us", last_post_at_us_}, {"result", last_result_}, {"detail", last_detail_}});
  if (!client_error_.empty()) post["endpoint_error"] = client_error_;
  return {{"master", std::move(master)}, {"post", std::move(post)}, {"alarms", alarms_.status()}};
}

}  // namespace ix::pacing
