// Timer: a libuv timer owned by a C++ object. The handle is heap-allocated and freed in its
// close callback, so the Timer may be destroyed at any moment on its loop's thread; after that
// its callback never runs.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>

namespace ix::net {

class Timer {
 public:
  explicit Timer(uv_loop_t* loop) : handle_(new Handle{{}, {}}) {
    uv_timer_init(loop, &handle_->timer);
    handle_->timer.data = handle_;
  }
  ~Timer() {
    handle_->callback = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&handle_->timer),
             [](uv_handle_t* h) { delete static_cast<Handle*>(h->data); });
  }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // (Re)starts the timer; callback runs once after timeout_ms.
  void start(uint64_t timeout_ms, std::function<void()> callback) {
    handle_->callback = std::move(callback);
    uv_timer_start(&handle_->timer, [](uv_timer_t* t) {
      auto* h = static_cast<Handle*>(t->data);
      // Move out first: the callback may restart this timer with a new callback.
      auto cb = std::move(h->callback);
      h->callback = nullptr;
      if (cb) cb();
    }, timeout_ms, 0);
  }
  void stop() {
    uv_timer_stop(&handle_->timer);
    handle_->callback = nullptr;
  }
  bool active() const { return uv_is_active(reinterpret_cast<const uv_handle_t*>(&handle_->timer)) != 0; }

 private:
  struct Handle {
    uv_timer_t timer;
    std::function<void()> callback;
  };
  Handle* handle_;
};

}  // namespace ix::net
