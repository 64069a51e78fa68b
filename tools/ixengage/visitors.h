// Visitors: the web visitors behind each pacing target, as the engagement service sees them.
//
// Per target, hot leads arrive as a Poisson stream (lead_rate per second) and wait a few seconds
// (lead_patience) for an invitation before they leave. The latest post for the target sets how
// many invitations may go out in the coming interval (invitationsAllowed); the simulator invites
// the longest-waiting leads up to that number, as soon as they are there. A decision older than
// three of its intervals is stale and allows nothing. An invitation is pending until the visitor
// accepts it (with accept_probability, after a delay drawn uniformly from the accept-delay range)
// or it expires (invitation_timeout). An accepted invitation is submitted to the cluster as a
// proactive chat (ProactiveSubmitter). What the service answers per target is the number of
// invitations pending now, and the running totals of those answered (accepted or expired), of
// those accepted, and of their time from sending to the answer.
//
// Runs on the simulator's one loop: a tick every 100 ms moves time forward for every target.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "protocol/net/timer.h"
#include "tools/ixengage/proactive_submitter.h"

namespace ix::engage {

// A pacing target as the simulator knows it: from the cluster configuration, or from the post
// itself when the simulator runs without one.
struct TargetInfo {
  std::string id;
  std::string tenant;
  std::string media;
  std::string virtual_queue;
};

struct VisitorOptions {
  double lead_rate = 2;                  // hot leads per second per target
  uint64_t lead_patience_ms = 5000;      // a lead not invited by then leaves
  double accept_probability = 0.3;
  uint64_t accept_delay_min_ms = 2000;
  uint64_t accept_delay_max_ms = 8000;
  uint64_t invitation_timeout_ms = 15000;
  uint64_t seed = 1;
};

class Visitors {
 public:
  Visitors(uv_loop_t* loop, VisitorOptions options, ProactiveSubmitter& submitter);
  Visitors(const Visitors&) = delete;
  Visitors& operator=(const Visitors&) = delete;

  void start();
  void stop();
  // A target the simulator knows before any post (from the configuration).
  void add_target(const TargetInfo& target);
  // The latest decision for a target: invitationsAllowed for the next interval_s seconds.
  // Invites waiting leads at once.
  void decide(const TargetInfo& target, uint64_t allowed, double interval_s);
  uint64_t pending(const std::string& id) const;
  // Since the simulator started, for one target.
  struct Answered {
    uint64_t answered = 0;  // accepted or expired
    uint64_t accepted = 0;
    double delay_seconds = 0;  // summed, sending to answer
  };
  Answered answered(const std::string& id) const;
  nlohmann::json state() const;

 private:
  struct Target {
    TargetInfo info;
    bool decided = false;
    uint64_t allowed = 0;          // as last posted
    uint64_t budget = 0;           // invitations still allowed in this interval
    double interval_s = 0;
    uint64_t decided_ms = 0;
    double next_lead_ms = 0;
    std::deque<uint64_t> waiting;  // arrival times of leads not invited yet
    uint64_t leads = 0, left = 0, sent = 0, pending = 0, accepted = 0, expired = 0, submitted = 0, submit_failures = 0;
    uint64_t answer_delay_ms = 0;  // summed over the accepted ones: from sending to acceptance
    std::string last_submit_error;
  };
  struct Invitation {
    std::string target;
    uint64_t number = 0;
    bool accepts = false;
    uint64_t after_ms = 0;  // from sending to the answer
  };

  Target& target(const TargetInfo& info);
  void tick();
  void advance(Target& t, uint64_t now);
  void invite(Target& t, uint64_t now);
  void settle(const Invitation& invitation);
  double next_gap_ms();

  uv_loop_t* loop_;
  VisitorOptions options_;
  ProactiveSubmitter& submitter_;
  net::Timer tick_timer_;
  std::mt19937_64 random_;
  std::map<std::string, Target> targets_;
  std::multimap<uint64_t, Invitation> due_;  // by the loop time the invitation settles
  uint64_t invitations_ = 0;
  bool running_ = false;
};

}  // namespace ix::engage
