// What the pacer knows about one pacing target at one tick: the input a statistics module (the
// proxy's merged stream, or perf/pacing_bench's simulator) fills in. Plain data; whoever fills it
// owns it, and the Pacer only reads it.
#pragma once

#include <array>
#include <cstdint>

namespace ix::pacing {

// Proactive interactions that finished waiting within one sliding window: accepted means
// delivered to and accepted by an agent, abandoned means stopped while still waiting.
struct WaitWindow {
  double length_seconds = 0;   // 60, 300, 900 by default; less while the statistics have counted for less
  uint32_t accepted = 0;
  uint32_t abandoned = 0;
  double accepted_wait_seconds = 0;   // summed waits of the accepted ones
  double abandoned_wait_seconds = 0;  // summed waits of the abandoned ones
};

struct TargetStats {
  double goal = 0.03;                  // abandonment goal as a fraction (optimizationGoal / 100)
  double refresh_interval_seconds = 5;  // the time until the next decision

  // Agents of the target's groups that can take its media (a blended agent counts everywhere).
  uint32_t agents_ready = 0;
  uint32_t agents_busy = 0;
  uint32_t agents_not_ready = 0;
  uint32_t free_capacity = 0;  // free slots among the ready agents (>= agents_ready with chat concurrency)
  uint32_t busy_capacity = 0;  // slots in use; 0 means "same as agents_busy"

  uint32_t waiting = 0;              // proactive interactions waiting in the virtual queue now
  uint32_t other_waiting = 0;        // other (reactive) interactions waiting for the same agents
  uint32_t pending_invitations = 0;  // sent, not yet answered (from the engagement service)

  // Waits still in progress (censored observations for the patience estimate): their number and
  // the time they have waited so far.
  uint32_t waiting_in_progress = 0;
  double waiting_in_progress_seconds = 0;

  // Sliding windows, shortest first (1, 5, 15 minutes by default).
  std::array<WaitWindow, 3> windows{};

  // Acceptance observations over the longest window: invitations answered (accepted or not)
  // and how many of them were accepted.
  uint32_t invitations_answered = 0;
  uint32_t invitations_accepted = 0;
  // Summed time from invitation to acceptance of those accepted: when an acceptance arrives is
  // what the pacer looks ahead by (a declined or expired invitation's delay says nothing of it).
  double answer_delay_seconds = 0;
  // Handling times of proactive interactions finished over the longest window.
  uint32_t handled = 0;
  double handle_time_seconds = 0;  // summed
  // Reactive interactions that entered the same agents' queue over the longest window (they
  // take capacity the pacer must leave free).
  uint32_t reactive_arrivals = 0;

  bool stale = false;  // the statistics lost the stream (pair down, reconnecting)
};

}  // namespace ix::pacing
