// TestLoop: a libuv loop for one test. run_until() drives it until a condition holds or a
// deadline passes; the destructor closes the loop and fails the test if any handle leaked
// (STYLE.md: every test that runs a loop ends with the loop closed cleanly).
#pragma once

#include <gtest/gtest.h>
#include <uv.h>

#include <functional>
#include <string>

namespace ix::test {

class TestLoop {
 public:
  TestLoop() { uv_loop_init(&loop_); }
  ~TestLoop() { close(); }
  TestLoop(const TestLoop&) = delete;
  TestLoop& operator=(const TestLoop&) = delete;

  uv_loop_t* get() { return &loop_; }

  // Runs the loop until done() is true; returns false if timeout_ms passed first.
  bool run_until(const std::function<bool()>& done, uint64_t timeout_ms = 10'000) {
    uv_timer_t tick;
    uv_timer_init(&loop_, &tick);
    uv_timer_start(&tick, [](uv_timer_t*) {}, 1, 1);  // wakes the loop so done() is re-checked
    uint64_t deadline = uv_now(&loop_) + timeout_ms;
    bool ok = true;
    while (!done()) {
      if (uv_now(&loop_) >= deadline) {
        ok = false;
        break;
      }
      uv_run(&loop_, UV_RUN_ONCE);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
    return ok;
  }

  // Runs the loop for a while, whatever happens.
  void run_for(uint64_t ms) {
    uint64_t until = uv_now(&loop_) + ms;
    run_until([&] { return uv_now(&loop_) >= until; }, ms + 1000);
  }

  // Lets pending close callbacks run, then closes the loop; a handle still open is a leak.
  void close() {
    if (closed_) return;
    closed_ = true;
    for (int i = 0; i < 100 && uv_loop_alive(&loop_); ++i) uv_run(&loop_, UV_RUN_NOWAIT);
    std::string leaked;
    uv_walk(&loop_, [](uv_handle_t* h, void* arg) {
      *static_cast<std::string*>(arg) += std::string(uv_handle_type_name(h->type)) +
                                         (uv_is_closing(h) ? "(closing) " : " ");
    }, &leaked);
    int rc = uv_loop_close(&loop_);
    EXPECT_EQ(rc, 0) << "loop closed with open handles: " << leaked;
  }

 private:
  uv_loop_t loop_;
  bool closed_ = false;
};

}  // namespace ix::test
