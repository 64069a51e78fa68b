// eventually(): waits for something a test can observe outside an event loop — a line in a
// process's log, an answer from a command — by checking it again every few milliseconds until it
// holds or a deadline passes. A test waits on what it means instead of sleeping a guessed time;
// the deadline only bounds a failure. (Conditions that need a libuv loop turning use
// TestLoop::run_until.)
//
// Runs on the test's thread; the condition is called on it.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace ix::test {

// True as soon as done() holds; false if it still did not after `timeout`.
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(10),
                       std::chrono::milliseconds every = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

}  // namespace ix::test
