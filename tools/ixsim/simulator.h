// Simulator: the outside world of a contact center, speaking the real protocol to a cluster
// (through its proxies): a media server submitting the workload's interactions, customers who
// abandon when their patience runs out while still queued, a routing engine that pulls from the
// views and delivers to agents with free capacity, and agent desktops that accept, handle for a
// while and stop. It keeps count of everything for the live summary line and the final report.
//
// Runs on one loop's thread; every peer is its own Session (its own connection), as in life.
//
// Failures stay small. Given several proxies, each peer starts on its own one (round robin) and,
// when that connection goes away, reconnects through the next proxy of the list (the media
// server and the routing engine at once, an agent's desktop logging in again and learning from
// the cluster which interactions it still has); a peer that cannot reach any proxy for
// kGiveUpMs fails the run. The media server and the routing engine, which keep no state on
// their connection, come back to their own proxy once it answers again (checked every
// kComeBackEveryMs; the old connection closes when its last request is answered); a desktop
// stays where it is, because moving would log its agent out and in. A submit that got no answer or 2002 is sent again with the same
// request_id (a run token and the arrival's number) for up to kSubmitRetryMs, so it never
// becomes two interactions. Every reply handler checks the stage it expects, because replies
// of different peers (a deliver answered through one proxy, the agent's accept through another)
// arrive in any order.
#pragma once

#include <uv.h>

#include <map>
#include <memory>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "protocol/net/request_timers.h"
#include "protocol/net/timer.h"
#include "tools/client/session.h"
#include "tools/ixsim/workload.h"

namespace ix::sim {

struct SimAgent {
  std::string id, tenant, place;
};

// A pacing target as the routing engine sees it: proactive interactions of this tenant and media
// name the virtual queue in their user data, and go only to the agents of the target's groups.
struct SimPacingTarget {
  std::string tenant, media, virtual_queue;
  std::set<std::string> agents;
};

struct SimOptions {
  std::vector<net::Endpoint> servers;  // peers are spread over them
  WorkloadOptions workload;
  std::vector<SimAgent> agents;
  std::map<std::string, int> capacity;  // per media; every agent logs in with all of them
  double duration_s = 0;                // 0: until stop()
  double summary_every_s = 1;
  bool live_line = false;               // rewrite one terminal line instead of printing lines
  std::vector<SimPacingTarget> pacing_targets;
  std::string virtual_queue_key = "VirtualQueue";  // the user-data key naming the virtual queue
};

class Simulator {
 public:
  static constexpr uint64_t kReconnectPauseMs = 300;
  static constexpr uint64_t kComeBackEveryMs = 2000;
  static constexpr uint64_t kGiveUpMs = 30'000;
  static constexpr uint64_t kSubmitRetryMs = 10'000;
  static constexpr uint64_t kSubmitRetryPauseMs = 200;
  // How long an interaction may stay invited (the desktop accepts at once), and how much longer
  // than its handling time it may stay with its agent, before the report calls it overdue.
  static constexpr uint64_t kOverdueSlackMs = 5000;

  Simulator(uv_loop_t* loop, SimOptions options);
  ~Simulator();

  // Connects every peer; arrivals start once every agent is logged in and ready. on_done runs
  // when the duration is over, after stop(), or when the cluster cannot be reached.
  void start(std::function<void()> on_done);
  // Stops arrivals and lets what is in flight be answered (at most 3 s); a second stop() ends
  // the run at once.
  void stop();

  // The final report: counts, rates, waits, errors, and every interaction by where it is.
  nlohmann::json report() const;
  std::string report_text() const;
  bool failed() const { return !failure_.empty(); }
  const std::string& failure() const { return failure_; }

 private:
  enum class Stage { kQueued, kRouting, kInvited, kHandling, kAbandoning, kAbandoned, kHandled };
  struct Customer {
    Arrival arrival;
    std::string id;
    std::string queue;
    Stage stage = Stage::kQueued;
    uint64_t submitted_ms = 0;
    std::string agent;
    std::string media;
    uint64_t stage_since_ms = 0;  // when it was invited, or accepted
  };
  // One peer's connection: the proxy it started on (home) and the one it uses now.
  struct Link {
    proto::ClientType type = proto::ClientType::MediaServer;
    std::string name;
    size_t home = 0;
    size_t server = 0;
    std::unique_ptr<tools::Session> session;
    bool up = false;
    uint64_t down_since_ms = 0;
    std::unique_ptr<net::Timer> reconnect;
    std::function<void(tools::Reply)> on_event;
    std::function<void(std::function<void()> done)> on_up;  // after registration (an agent logs in); calls done
    std::function<void()> on_down;
    std::unique_ptr<tools::Session> probe;  // a connection to the home proxy being tried (media server, routing engine)
    std::vector<std::unique_ptr<tools::Session>> retiring;  // replaced, closed once their requests are answered
  };
  struct Agent {
    SimAgent who;
    Link link;
    bool ready = false;
    std::map<std::string, int> busy;  // per media
  };

  void connect(Link& link, std::function<void()> first_time);
  void link_lost(Link& link, const std::string& reason);
  // For each stateless link away from its home proxy: try the home proxy, and move back there.
  void come_back();
  void log_in(Agent& agent, std::function<void()> done);
  void peer_ready();
  void schedule_arrival();
  void submit(const Arrival& arrival, uint64_t first_sent_ms);
  void abandon(uint64_t number);
  void pull(const std::string& tenant, const std::string& view);
  void pull_everywhere();
  void route(std::unique_ptr<proto::InteractionInfoT> interaction, const std::string& tenant);
  // The ready agent with the most free capacity; only one of `allowed` when it is given.
  Agent* free_agent(const std::string& tenant, const std::string& media, const std::set<std::string>* allowed = nullptr);
  const SimPacingTarget* pacing_target(const std::string& tenant, const std::string& media) const;
  const SimPacingTarget* pacing_target_of(const proto::InteractionInfoT& interaction) const;
  void on_agent_event(Agent& agent, tools::Reply event);
  void finish_handling(uint64_t number);
  void release(const std::string& agent, const std::string& media, bool pull_now = true);
  // What the cluster says the agent has: leftovers of an earlier run are adopted, what this
  // run thought it had and it no longer has is back in its queue, and its capacity is recounted.
  void adopt_leftovers(Agent& agent, std::function<void()> then);
  // An interaction an agent has that this run did not submit (left over from an earlier one).
  Customer& adopt(const std::string& id, const std::string& agent, const std::string& media);
  void count_error(const Result<tools::Reply>& reply);
  void summary();
  // The IDs of interactions with agents for longer than their stage allows.
  std::vector<std::string> overdue() const;
  void set_stage(Customer& c, Stage stage);
  void fail(const std::string& why);
  void finish();
  // Sends a request of the running simulation, counted until answered (stop() drains them).
  template <class Native, class F>
  void send(tools::Session& session, const Native& message, F on_reply) {
    ++in_flight_;
    session.request(message, [this, on_reply = std::move(on_reply)](Result<tools::Reply> reply) mutable {
      --in_flight_;
      on_reply(std::move(reply));
      if (draining_ && in_flight_ == 0) finish();
    });
  }
  uint64_t now_ms() const;
  Customer* customer(uint64_t number);

  uv_loop_t* loop_;
  SimOptions options_;
  Workload workload_;
  std::function<void()> on_done_;
  Link media_;
  Link routing_;
  std::vector<Agent> agents_;
  std::string run_token_;  // makes this run's request IDs its own
  int peers_waiting_ = 0;
  uint64_t started_ms_ = 0;  // loop time when arrivals began
  bool running_ = false;
  bool draining_ = false;
  bool stopped_ = false;
  int in_flight_ = 0;
  std::string failure_;

  Arrival next_;
  net::Timer arrival_timer_;
  net::Timer summary_timer_;
  net::Timer end_timer_;
  net::Timer retry_timer_;
  net::Timer drain_timer_;
  net::Timer come_back_timer_;
  net::RequestTimers patience_;
  net::RequestTimers handling_;
  net::RequestTimers submit_retries_;  // by arrival number
  std::unordered_map<uint64_t, std::pair<Arrival, uint64_t>> retrying_;  // arrival, first sent at
  std::unordered_map<uint64_t, Customer> customers_;  // by arrival number
  std::unordered_map<std::string, uint64_t> by_id_;
  std::map<std::pair<std::string, std::string>, bool> pulling_;  // (tenant, view) → a pull is out

  // Counters for the summary and the report.
  uint64_t submitted_ = 0, proactive_ = 0, delivered_ = 0, handled_ = 0, abandoned_ = 0, revoked_ = 0, adopted_ = 0;
  uint64_t reconnects_ = 0, submit_retries_sent_ = 0, repeated_ = 0;
  uint64_t wait_total_ms_ = 0, waits_ = 0;
  struct Errors {
    uint64_t count = 0;
    std::string last_text;
  };
  std::map<int, Errors> errors_;  // by code; 0 = no answer
  uint64_t last_submitted_ = 0, last_summary_ms_ = 0;
};

}  // namespace ix::sim
