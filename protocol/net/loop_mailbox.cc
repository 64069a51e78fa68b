#include "protocol/net/loop_mailbox.h"

namespace ix::net {

LoopMailbox* LoopMailbox::create(uv_loop_t* loop) {
  auto* mailbox = new LoopMailbox;
  uv_async_init(loop, &mailbox->async_, [](uv_async_t* a) { static_cast<LoopMailbox*>(a->data)->deliver(); });
  mailbox->async_.data = mailbox;
  return mailbox;
}

void LoopMailbox::post(std::function<void()> work) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(work));
  }
  uv_async_send(&async_);
}

void LoopMailbox::close() {
  closing_ = true;
  // Wakes the loop even when nothing is queued, so that the handle closes on the next turn.
  uv_async_send(&async_);
}

void LoopMailbox::deliver() {
  std::deque<std::function<void()>> ready;
  {
    std::lock_guard lock(mutex_);
    ready.swap(queue_);
  }
  for (auto& work : ready) work();
  bool more;
  {
    std::lock_guard lock(mutex_);
    more = !queue_.empty();
  }
  // Work posted by the closures above waits for the next turn, so a completion that commits
  // again cannot keep the loop here.
  if (more) {
    uv_async_send(&async_);
  } else if (closing_ && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&async_))) {
    uv_close(reinterpret_cast<uv_handle_t*>(&async_),
             [](uv_handle_t* h) { delete static_cast<LoopMailbox*>(h->data); });
  }
}

}  // namespace ix::net
