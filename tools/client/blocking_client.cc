#include "tools/client/blocking_client.h"

#include "protocol/net/timer.h"

namespace ix::tools {

BlockingClient::BlockingClient(Session::Options options) {
  uv_loop_init(&loop_);
  session_ = std::make_unique<Session>(&loop_, std::move(options));
  session_->set_on_event([this](Reply event) { events_.push_back(std::move(event)); });
  session_->set_on_closed([this](const std::string& reason) {
    closed_ = true;
    close_reason_ = reason;
  });
}

BlockingClient::~BlockingClient() {
  session_.reset();
  // Let the connection's handles close, then the loop.
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

Result<Reply> BlockingClient::open() {
  std::optional<Result<Reply>> result;
  session_->open([&](Result<Reply> r) { result.emplace(std::move(r)); });
  run_until([&] { return result.has_value(); });
  if (!*result) closed_ = true;
  return std::move(*result);
}

std::optional<Reply> BlockingClient::next_event(uint64_t timeout_ms) {
  run_until([&] { return !events_.empty() || closed_; }, timeout_ms);
  if (events_.empty()) return std::nullopt;
  Reply event = std::move(events_.front());
  events_.pop_front();
  return event;
}

void BlockingClient::run_for(uint64_t ms) {
  run_until([] { return false; }, ms);
}

void BlockingClient::run_until(const std::function<bool()>& done, uint64_t timeout_ms) {
  bool expired = false;
  net::Timer timer(&loop_);
  if (timeout_ms) timer.start(timeout_ms, [&] { expired = true; });
  while (!done() && !expired) uv_run(&loop_, UV_RUN_ONCE);
}

}  // namespace ix::tools
