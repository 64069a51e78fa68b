// LoopMailbox: hands work finished on other threads (a node store's writer and reader, the proxy's
// workers answering the admin port) back to a loop thread, through one uv_async handle.
//
// Any thread may post(); the posted closures run on the loop thread, in order, on a later loop
// turn — never inside post() or close(). close() may be called on the loop thread while work is
// still queued: what is queued (and whatever is posted until the workers have stopped) still
// runs on the next loop turn, after which the handle closes and the mailbox frees itself. The
// owner therefore holds it by pointer and never deletes it; the mailbox outlives its owner.
#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <mutex>

namespace ix::net {

class LoopMailbox {
 public:
  // Creates a mailbox on `loop`; call from the loop thread.
  static LoopMailbox* create(uv_loop_t* loop);

  LoopMailbox(const LoopMailbox&) = delete;
  LoopMailbox& operator=(const LoopMailbox&) = delete;

  // Queues a closure for the loop thread; thread-safe.
  void post(std::function<void()> work);
  // Loop thread: runs what is queued on the next loop turn, then closes the handle and frees the
  // mailbox. Nothing may be posted after close() returns to the caller's last worker.
  void close();

 private:
  LoopMailbox() = default;
  ~LoopMailbox() = default;
  void deliver();

  uv_async_t async_{};
  std::mutex mutex_;
  std::deque<std::function<void()>> queue_;
  bool closing_ = false;  // loop thread only
};

}  // namespace ix::net
