// TurnClock: the monotonic clock (uv_hrtime, ns) read at most once per phase of a loop's turn,
// for the per-request timestamps of a busy loop (a request's start, its reply's arrival).
//
// Every request handled in the I/O phase of a turn (the frames cut from one poll's reads) gets
// the same reading, the one taken when the phase first asked; the reading is forgotten right
// before the loop polls and right after, so it never spans a wait in poll. The callbacks
// between two polls that run no I/O (closing, timers, idle) share the reading taken after the
// last poll. An event is thus stamped early by at most the work done before it since the last
// poll (for a proxy worker, tens of microseconds at full load), and a loop that forwards
// thousands of requests per turn reads the clock a few times per turn instead of several times
// per request (on a virtual machine a clock read costs a good share of a forwarded request's
// CPU). HAProxy keeps its `now` the same way, refreshed around each poll. Between two uv_run calls
// (a loop run in steps, as tests do) the reading taken last may be kept.
//
// The handles are heap-allocated and freed in their close callbacks, so a TurnClock may be
// destroyed at any moment on its loop's thread.
#pragma once

#include <uv.h>

#include <cstdint>

namespace ix::net {

class TurnClock {
 public:
  explicit TurnClock(uv_loop_t* loop) : handles_(new Handles) {
    uv_prepare_init(loop, &handles_->prepare);
    uv_check_init(loop, &handles_->check);
    handles_->prepare.data = handles_;
    handles_->check.data = handles_;
    // Unreferenced: the clock alone never keeps a loop running.
    uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->prepare));
    uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->check));
    uv_prepare_start(&handles_->prepare, [](uv_prepare_t* p) { static_cast<Handles*>(p->data)->cached_ns = 0; });
    uv_check_start(&handles_->check, [](uv_check_t* c) { static_cast<Handles*>(c->data)->cached_ns = 0; });
  }
  ~TurnClock() {
    handles_->open = 2;
    const auto closed = [](uv_handle_t* h) {
      auto* handles = static_cast<Handles*>(h->data);
      if (--handles->open == 0) delete handles;
    };
    uv_close(reinterpret_cast<uv_handle_t*>(&handles_->prepare), closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&handles_->check), closed);
  }
  TurnClock(const TurnClock&) = delete;
  TurnClock& operator=(const TurnClock&) = delete;

  uint64_t now_ns() {
    if (handles_->cached_ns == 0) handles_->cached_ns = uv_hrtime();
    return handles_->cached_ns;
  }

 private:
  struct Handles {
    uv_prepare_t prepare;
    uv_check_t check;
    uint64_t cached_ns = 0;
    int open = 0;
  };
  Handles* handles_;
};

}  // namespace ix::net
