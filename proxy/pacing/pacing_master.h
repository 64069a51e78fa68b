// PacingMaster: the posting side of the pacing module — who posts, and what came of it. It keeps
// this proxy's MasterLease current (the named lease in the configured node pair, asked through
// the proxy's own pair links), posts each cycle's decisions to the engagement service while this
// proxy is master (EngagementClient, with the lease's fencing number), hands the pending
// invitations the service reports back to the caller, and drives the three alarms.
//
// Every proxy that runs the module keeps its statistics warm and its lease attempts going; only
// the master posts. A post never outlives the mastership it started under: its deadline is the
// earlier of http-timeout and the end of the lease's validity, and fencing makes the service
// refuse a deposed master's late request.
//
// Threads: everything runs on the pacing module's loop, except the lease function's callbacks,
// which arrive on the proxy's worker 0 and are handed to the loop through a mailbox that
// outlives this object (a late answer after stop() is dropped). Metrics: ix_pacing_master,
// ix_pacing_fencing_token, ix_pacing_posts_total{result}, ix_pacing_post_seconds and the alarms'.
#pragma once

#include <uv.h>

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster-config/model.h"
#include "protocol/http/metrics.h"
#include "protocol/net/timer.h"
#include "proxy/pacing/engagement/engagement_client.h"
#include "proxy/pacing/master_lease.h"
#include "proxy/pacing/pacing_alarms.h"
#include "proxy/pacing/pacing_engine.h"

namespace ix::pacing {

// Sends one lease request to the lease pair; the callback runs once, on any thread.
using LeaseFunction = std::function<void(MasterLease::Request, std::function<void(MasterLease::Reply)>)>;

class PacingMaster {
 public:
  // After each post, whatever came of it: the pending invitations and invitation totals by
  // decision index (nullopt: not reported; empty when the post failed).
  using DoneCallback = std::function<void(const PostResult& result)>;

  PacingMaster(const config::PacingService& pacing, std::string proxy_id, metrics::Registry& metrics);
  ~PacingMaster();

  // On the module's loop: starts the lease attempts and builds the engagement client (a client
  // that cannot be built — missing credentials, an unreadable CA file — fails every post with
  // that reason, so the alarm shows it). on_change runs on the loop whenever the master, the
  // holder or the fencing number changes (the module republishes its status).
  void start(uv_loop_t* loop, LeaseFunction lease, std::function<void()> on_change);
  // Releases the lease if this proxy holds it (a clean shutdown hands over at once) and closes
  // the handles; the loop must run once more to free them.
  void stop();

  // Posts one cycle's decisions if this proxy is master and no post is running.
  void post(const std::vector<TargetDecision>& decisions, double interval_seconds, DoneCallback on_done);

  // A reloaded [pacing] (on the module's loop): http-timeout and the alarm thresholds apply
  // from the next post; a changed endpoint ([pacing.endpoint]) or forward proxy gets a new
  // engagement client, built before the next post once no post is running (the one in flight
  // finishes on the old one). The credentials, auth-url, ca-file, tenant and the lease (its
  // pair and ttl) stay as they started: they need a restart.
  void reconfigure(const config::PacingService& pacing);

  // {"master": {...}, "post": {...}, "alarms": [...]} for the module's status.
  nlohmann::json status() const;

 private:
  struct Mailbox;

  void tick();
  // Builds the engagement client from pacing_ (or records why it cannot be built).
  void build_client();
  void send(MasterLease::Request request);
  void arm_timer();
  void finished(const PostResult& result, Clock::time_point started, const DoneCallback& on_done);
  int64_t now_ms() const;

  config::PacingService pacing_;
  std::string proxy_id_;
  MasterLease lease_;
  PacingAlarms alarms_;
  uv_loop_t* loop_ = nullptr;
  LeaseFunction lease_function_;
  std::function<void()> on_change_;
  std::string seen_holder_;  // as of the last on_change_
  uint64_t seen_fencing_ = 0;
  std::shared_ptr<Mailbox> mailbox_;
  std::unique_ptr<net::Timer> lease_timer_;
  std::unique_ptr<EngagementClient> client_;
  std::string client_error_;  // why there is no client
  bool rebuild_client_ = false;  // the endpoint changed: a new client before the next post

  // The last post, for the status.
  int64_t last_post_at_us_ = 0;
  std::string last_result_;
  std::string last_detail_;
  uint64_t posts_ = 0;

  metrics::Gauge* master_gauge_;
  metrics::Gauge* fencing_gauge_;
  metrics::Counter* posts_ok_;
  metrics::Counter* posts_failed_;
  metrics::Counter* posts_invalid_;
  metrics::Counter* posts_target_errors_;
  metrics::Histogram* post_seconds_;
};

}  // namespace ix::pacing
