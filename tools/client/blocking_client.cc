#include "tools/client/blocking_client.h"

#include <algorithm>
#include <csignal>

#include "protocol/net/timer.h"

namespace ix::tools {

namespace {

// Slack over a session deadline before the backstop gives up on it: the session's own timer
// normally answers first, with its own message.
constexpr uint64_t kBackstopSlackMs = 1000;

}  // namespace

int BlockingClient::interruptions_ = 0;

BlockingClient::BlockingClient(Session::Options options) : options_(options), server_(options.endpoint.to_string()) {
  uv_loop_init(&loop_);
  session_ = std::make_unique<Session>(&loop_, std::move(options));
  session_->set_on_event([this](Reply event) { events_.push_back(std::move(event)); });
  session_->set_on_closed([this](const std::string& reason) {
    closed_ = true;
    close_reason_ = reason;
  });
  // The watchers do not keep the loop alive; each one that fires ends the wait in progress.
  for (auto [handle, signal] : {std::pair{&interrupt_, SIGINT}, std::pair{&terminate_, SIGTERM}}) {
    uv_signal_init(&loop_, handle);
    uv_signal_start(handle, [](uv_signal_t* h, int) {
      ++interruptions_;
      uv_stop(h->loop);
    }, signal);
    uv_unref(reinterpret_cast<uv_handle_t*>(handle));
  }
}

BlockingClient::~BlockingClient() {
  session_.reset();
  // From here a signal has its default effect again: the process ends at once.
  uv_close(reinterpret_cast<uv_handle_t*>(&interrupt_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&terminate_), nullptr);
  // Let the connection's handles close (a graceful close lingers at most its close timeout),
  // but never wait longer than kCloseWaitMs for a peer.
  uv_timer_t guard;
  uv_timer_init(&loop_, &guard);
  uv_timer_start(&guard, [](uv_timer_t* t) { uv_stop(t->loop); }, kCloseWaitMs, 0);
  uv_unref(reinterpret_cast<uv_handle_t*>(&guard));
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_close(reinterpret_cast<uv_handle_t*>(&guard), nullptr);
  uv_run(&loop_, UV_RUN_NOWAIT);
  uv_loop_close(&loop_);  // UV_EBUSY when a peer kept a handle open past the guard: the process is ending
}

Result<Reply> BlockingClient::open() {
  std::optional<Result<Reply>> result;
  const uint64_t ref = session_->open([&](Result<Reply> r) { result.emplace(std::move(r)); });
  Result<Reply> reply = wait_for(ref, result, options_.connect_timeout_ms + options_.request_timeout_ms, "registration");
  if (!reply) closed_ = true;
  return reply;
}

Result<Reply> BlockingClient::wait_for(uint64_t ref, std::optional<Result<Reply>>& result, uint64_t timeout_ms, const char* what) {
  const int signals_before = interruptions_;
  run_until([&] { return result.has_value(); }, timeout_ms + kBackstopSlackMs);
  if (result) return std::move(*result);
  session_->forget(ref);  // the callback refers to `result`, which is about to go
  if (interruptions_ != signals_before || interrupted()) return Error{0, std::string("interrupted while waiting for ") + what + " from " + server_};
  return Error{0, std::string("no ") + what + " from " + server_ + " within " + std::to_string(timeout_ms) + " ms"};
}

std::optional<Reply> BlockingClient::next_event(uint64_t timeout_ms) {
  run_until([&] { return !events_.empty() || closed_; }, std::max<uint64_t>(timeout_ms, 1));
  if (events_.empty()) return std::nullopt;
  Reply event = std::move(events_.front());
  events_.pop_front();
  return event;
}

void BlockingClient::run_for(uint64_t ms) {
  run_until([] { return false; }, ms);
}

bool BlockingClient::run_until(const std::function<bool()>& done, uint64_t timeout_ms) {
  const int signals_before = interruptions_;
  // After a signal nothing waits long: the process is on its way out.
  if (interrupted() && (timeout_ms == 0 || timeout_ms > kGraceAfterSignalMs)) timeout_ms = kGraceAfterSignalMs;
  bool expired = false;
  net::Timer timer(&loop_);
  if (timeout_ms) timer.start(timeout_ms, [&] { expired = true; });
  while (!done() && !expired && interruptions_ == signals_before) uv_run(&loop_, UV_RUN_ONCE);
  return done();
}

}  // namespace ix::tools
