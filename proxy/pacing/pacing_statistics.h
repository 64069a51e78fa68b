// PacingStatistics: what the pacing module knows about every pacing target, kept current event
// by event from the proxy's merged reporting stream — the guide's PACS_VQ_Current,
// PACS_VQ_Accepted and PACS_VQ_Abandoned and what a pacer needs besides.
//
// Which interactions count: one whose user data names a pacing target's virtual queue (under
// `pacing.virtual-queue-key`), whose media is the target's, and which meets
// `pacing.proactive-filter`, decided when it is submitted (or when a pair's snapshot shows it).
// Such an interaction waits from its submission until an agent joins it (accepted, with that
// wait) or it is stopped first (abandoned, with that wait); once accepted, its handling time runs
// until it is stopped or its last party leaves.
//
// Reactive traffic: a non-proactive interaction (one that does not meet the filter) of a target's
// media whose virtual queue (the same user-data key) is one that the target's agent groups serve
// (their `origination-dns`: the target's own virtual queue and any inbound one of blended
// agents) takes the capacity of the same agents. It counts for every such target as a reactive
// arrival when it is submitted, and as waiting (other_waiting) until an agent joins it or it is
// stopped. A pair's state seeds the waiting ones, not arrivals: those happened before.
//
// Agents: every agent of a target's agent groups counts toward that target when it can take the
// target's media (an agent in several groups is counted once per target, and toward each target
// of each media it has — blended agents). Per agent and media the stream says logged in (with a
// capacity), ready or not, DND, and how many interactions it handles (parties added/removed).
//
// Rebuilding: seed_pair() replaces everything known about one pair's interactions with that
// pair's current state, taken at a sequence number; the stream's events from that pair up to
// that number are then ignored, so nothing is counted twice or missed. Agents are seeded the
// same way (seed_agent).
//
// A pair's stream stopping (stream_stopped(), from the feed when the proxy loses the pair) makes
// every target the pair serves (its tenant and media) stale: what the statistics say of it may
// be behind from then on, until the pair's state seeds it again after it comes back.
//
// Time is the events' own timestamps and the `now` passed to reads, so a
// recorded stream replays to the same figures. Not thread-safe: the pacing module's thread owns it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "cluster-config/model.h"
#include "protocol/query/condition.h"
#include "protocol/wire/ixcluster_generated.h"
#include "proxy/pacing/sliding_window.h"

namespace ix::pacing {

// The windows the statistics are kept over.
inline constexpr std::array<int64_t, 3> kWindowsUs = {60'000'000, 300'000'000, 900'000'000};
inline constexpr std::array<const char*, 3> kWindowNames = {"1m", "5m", "15m"};

struct AgentCounts {
  uint32_t logged_in = 0;  // logged in with the media
  uint32_t ready = 0;      // ready for the media and not DND
  uint32_t busy = 0;       // handling at least one interaction of the media
  uint32_t not_ready = 0;  // logged in with the media but not ready (or DND)
  uint32_t free_capacity = 0;  // of the ready agents: capacity − interactions of the media in hand
  uint32_t busy_capacity = 0;  // interactions of the media in hand (slots in use)
};

struct WindowCounts {
  uint64_t count = 0;
  double wait_seconds = 0;  // summed
};

// One target's figures at a moment.
struct TargetFigures {
  const config::PacingTarget* target = nullptr;  // name, media, goal
  uint32_t waiting = 0;                // PACS_VQ_Current: waiting now
  double waiting_seconds = 0;          // the waits still in progress, summed (censored waits)
  std::array<WindowCounts, 3> accepted;  // PACS_VQ_Accepted per window (kWindowsUs), with the waits
  std::array<WindowCounts, 3> abandoned; // PACS_VQ_Abandoned per window, with the waits
  std::array<WindowCounts, 3> handled;   // finished handling, with the handling times
  uint32_t handling = 0;               // accepted and not finished
  uint32_t other_waiting = 0;          // reactive interactions waiting for the same agents now
  std::array<WindowCounts, 3> reactive_arrivals;  // reactive interactions submitted, per window
  AgentCounts agents;
  std::vector<std::string> stale_pairs;  // pairs serving the target whose stream stopped, not reseeded yet
  // How long the statistics have counted (PacingStatistics::counting_from): a window
  // longer than that holds only this much of the past, which a rate must divide by.
  double counting_seconds = 0;
};

class PacingStatistics {
 public:
  // Throws nothing; an invalid proactive filter (the loader refuses one) counts nothing.
  explicit PacingStatistics(const config::ClusterConfig& config);

  // A reloaded configuration (kept alive by the caller, as the first one): targets added,
  // removed or changed, groups' agents, the filter and the user-data key. A target that stays
  // (same virtual queue and media) keeps its counts, windows and waiting interactions; a new one
  // starts from nothing (the pairs' states, asked for again after a reload, fill it in); a
  // removed one's interactions are forgotten. Returns, per previous target, its new index.
  std::vector<std::optional<size_t>> reconfigure(const config::ClusterConfig& config);

  // A verified reporting event from the merged stream, with the pair it came from; an
  // EventReportingState (a pair's current state, published into the feed before the pair's
  // stream resumes) seeds the pair.
  void on_event(size_t pair, const proto::Envelope& envelope);

  // Replaces what is known of a pair's interactions by the pair's open interactions at `seq`.
  void seed_pair(size_t pair, uint64_t seq, const std::vector<proto::InteractionInfoT>& open, int64_t now_us);
  // Since when the statistics have watched: the earliest of the times given here (the engine's
  // first decision, on the proxy's clock) and of the events counted (a seed's time is the
  // newest change its state shows, which may be long before anyone watched: not counted).
  void counting_from(int64_t now_us);
  // Sets an agent's media as a snapshot shows them (replacing what the stream said of those).
  struct AgentMediaState {
    std::string media;
    uint32_t capacity = 1;
    bool ready = false;
    uint32_t in_hand = 0;
  };
  void seed_agent(const std::string& tenant, const std::string& agent, bool dnd, std::vector<AgentMediaState> media);

  // The pair's stream stopped (the proxy lost the pair): the targets it serves are stale until
  // its state seeds it again.
  void stream_stopped(size_t pair);
  // Every pair's stream stopped (the reader missed events): all stale until their states are in.
  void all_streams_stopped() { pair_stale_.assign(pair_stale_.size(), true); }
  bool pair_stale(size_t pair) const { return pair < pair_stale_.size() && pair_stale_[pair]; }

  size_t target_count() const { return targets_.size(); }
  TargetFigures figures(size_t target, int64_t now_us) const;
  // Per agent group and media.
  AgentCounts group_counts(const std::string& group, const std::string& media) const;
  // Events that changed a count, and events ignored as already covered by a seed.
  uint64_t events_counted() const { return events_counted_; }
  uint64_t events_skipped() const { return events_skipped_; }

 private:
  struct MediaState {
    uint32_t capacity = 1;
    bool ready = false;
    uint32_t in_hand = 0;
  };
  struct AgentState {
    bool dnd = false;
    std::map<std::string, MediaState> media;  // logged in with these
  };
  struct Target {
    const config::PacingTarget* config;
    std::vector<const AgentState*> agents;  // of the target's groups, once each
    uint32_t waiting = 0;
    long double waiting_since_sum_us = 0;  // of the waiting ones, for the waits in progress (exact)
    uint32_t handling = 0;
    SlidingWindow accepted, abandoned, handled;
    std::vector<size_t> pairs;  // the pairs serving the target's tenant and media
    std::vector<size_t> reactive;  // the reactive queues its groups serve (index into reactive_)
    Target();
  };
  // A virtual queue and media the targets' groups serve, for reactive traffic.
  struct ReactiveQueue {
    uint32_t waiting = 0;
    SlidingWindow arrivals;
    ReactiveQueue();
  };
  using ReactiveKey = std::tuple<std::string, std::string, std::string>;  // tenant, virtual queue, media
  struct WaitingReactive {
    size_t queue = 0;  // index into reactive_
    size_t pair = 0;
  };
  struct Tracked {
    size_t target = 0;
    size_t pair = 0;
    int64_t waiting_since_us = 0;
    int64_t accepted_at_us = 0;  // 0 = still waiting
    uint32_t parties = 0;
  };
  std::optional<size_t> target_of(const proto::InteractionInfoT& info) const;
  std::optional<size_t> reactive_queue_of(const proto::InteractionInfoT& info) const;
  void track_reactive(const proto::InteractionInfoT& info, size_t pair, std::optional<int64_t> arrived_us);
  bool stop_reactive(const std::string& id);
  void reconfigure_reactive(const config::ClusterConfig& config);
  void track(const proto::InteractionInfoT& info, size_t pair, int64_t since_us);
  void stop_waiting(const Tracked& t);
  void accept(Tracked& t, int64_t at_us);
  void finish(const std::string& id, int64_t at_us);
  void on_interaction_event(size_t pair, const proto::Envelope& envelope, const proto::ReportingHeader& header);
  void on_agent_event(const proto::Envelope& envelope, const proto::ReportingHeader& header);
  void on_state(size_t pair, const proto::EventReportingState& state);
  static void set_ready(AgentState& agent, const flatbuffers::String* media, bool ready);
  void count(AgentCounts& counts, const AgentState& agent, const std::string& media) const;
  static std::string agent_key(std::string_view tenant, std::string_view agent);

  std::string vq_key_;
  query::Condition filter_;
  bool filter_valid_ = false;
  std::vector<Target> targets_;
  std::map<std::pair<std::string, std::string>, size_t> target_by_vq_;  // (virtual queue, media)
  std::map<std::string, std::vector<const AgentState*>> group_agents_;  // group -> its agents
  std::unordered_map<std::string, Tracked> interactions_;              // counted ones, by ID
  std::vector<ReactiveQueue> reactive_;
  std::map<ReactiveKey, size_t> reactive_by_key_;
  std::unordered_map<std::string, WaitingReactive> reactive_waiting_;  // reactive ones waiting, by ID
  std::unordered_map<std::string, AgentState> agents_;                 // by agent key
  std::vector<uint64_t> seeded_seq_;                                   // by pair
  std::vector<bool> pair_stale_;                                       // by pair: stopped, not reseeded
  std::vector<std::string> pair_ids_;                                  // by pair
  uint64_t events_counted_ = 0;
  uint64_t events_skipped_ = 0;
  int64_t counting_since_us_ = 0;  // see counting_from(); 0: not yet
};

}  // namespace ix::pacing
