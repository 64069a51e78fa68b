// BlockingClient: a Session on its own loop, for a command-line tool that does one thing at a
// time — connect, send a request and wait for its reply, wait for the next event. Single-threaded.
#pragma once

#include <deque>
#include <optional>

#include "tools/client/session.h"

namespace ix::tools {

class BlockingClient {
 public:
  explicit BlockingClient(Session::Options options);
  ~BlockingClient();
  BlockingClient(const BlockingClient&) = delete;
  BlockingClient& operator=(const BlockingClient&) = delete;

  // Connects and registers: the registration reply (which may be a refusal), or why there is none.
  Result<Reply> open();

  template <class Native>
  Result<Reply> call(const Native& message, uint64_t timeout_ms = 0) {
    std::optional<Result<Reply>> result;
    session_->request(message, [&](Result<Reply> r) { result.emplace(std::move(r)); }, timeout_ms);
    run_until([&] { return result.has_value(); });
    return std::move(*result);
  }

  // The next unsolicited message, or nullopt after timeout_ms (0 = wait for ever) or once the
  // connection closed (closed() then says so).
  std::optional<Reply> next_event(uint64_t timeout_ms);
  bool closed() const { return closed_; }
  const std::string& close_reason() const { return close_reason_; }
  // Lets the loop run for a while (keeps the connection serviced), e.g. between commands.
  void run_for(uint64_t ms);

 private:
  void run_until(const std::function<bool()>& done, uint64_t timeout_ms = 0);

  uv_loop_t loop_;
  std::unique_ptr<Session> session_;
  std::deque<Reply> events_;
  bool closed_ = false;
  std::string close_reason_;
};

}  // namespace ix::tools
