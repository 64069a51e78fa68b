// SlowLogStore: a ThreadedStore (the reader and writer threads of SqliteStore and PostgresStore)
// whose event log answers only once the test releases it — a cold disk, a remote database — for
// tests that the loop keeps turning while the log is read. Commits succeed and store nothing; a
// read returns one event, seq after_seq + 1, with the frame the test set (empty by default).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "node/store/threaded_store.h"
#include "protocol/net/timer.h"
#include "tests/support/test_loop.h"

namespace ix::test {

class SlowLogStore final : public node::ThreadedStore {
 public:
  explicit SlowLogStore(uv_loop_t* loop) : ThreadedStore(false, 1) { start(loop); }
  ~SlowLogStore() override { close(); }

  Result<node::LoadedState> load() override { return node::LoadedState{}; }

  std::atomic<bool> reading{false};   // a read has reached the log
  std::atomic<bool> released{false};  // set by the test: the log answers
  std::atomic<std::thread::id> read_on{};
  std::vector<uint8_t> frame;  // set before release(): the frame of the event a read returns

 protected:
  Status apply(std::vector<Pending>&, const node::Fence&) override { return {}; }
  Result<node::LeaseOutcome> apply_lease(const node::LeaseCommand&) override { return Error{1, "no leases here"}; }
  Result<std::vector<node::StoredEvent>> read(uint64_t after_seq, size_t) override {
    read_on = std::this_thread::get_id();
    reading = true;
    while (!released) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return std::vector<node::StoredEvent>{node::StoredEvent{after_seq + 1, 0, "101", frame}};
  }
  std::optional<uint64_t> read_first_seq() override { return 1; }
};

// Whether the loop goes on turning (a 5 ms timer fires ten times within 2 s) while a read is held
// in the log.
inline bool loop_keeps_turning(TestLoop& loop) {
  int ticks = 0;
  net::Timer timer(loop.get());
  std::function<void()> tick = [&] {
    ++ticks;
    timer.start(5, tick);
  };
  timer.start(5, tick);
  const bool turned = loop.run_until([&] { return ticks >= 10; }, 2000);
  timer.stop();
  return turned;
}

}  // namespace ix::test
