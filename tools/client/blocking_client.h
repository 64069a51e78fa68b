// BlockingClient: a Session on its own loop, for a command-line tool that does one thing at a
// time — connect, send a request and wait for its reply, wait for the next event. Single-threaded.
//
// No wait is unbounded. A call waits at most its timeout (the session's deadline, with a
// backstop here should that deadline never fire), registration at most the connect timeout plus
// the request timeout, next_event and run_for at most what they are given; the destructor
// waits at most kCloseWaitMs for the connection to close. While a client exists, SIGINT and
// SIGTERM end whatever wait is in progress at once (interrupted() then says so); a wait that
// starts after a signal — an agent's logout on the way out — lasts at most kGraceAfterSignalMs,
// and a second signal ends it too.
#pragma once

#include <deque>
#include <optional>

#include "tools/client/session.h"

namespace ix::tools {

class BlockingClient {
 public:
  static constexpr uint64_t kGraceAfterSignalMs = 2000;
  static constexpr uint64_t kCloseWaitMs = 2000;

  explicit BlockingClient(Session::Options options);
  ~BlockingClient();
  BlockingClient(const BlockingClient&) = delete;
  BlockingClient& operator=(const BlockingClient&) = delete;

  // Connects and registers: the registration reply (which may be a refusal), or why there is none.
  Result<Reply> open();

  // One request and its reply, or why there is none (no answer within timeout_ms — 0: the
  // session's request timeout —, connection lost, interrupted).
  template <class Native>
  Result<Reply> call(const Native& message, uint64_t timeout_ms = 0) {
    const uint64_t timeout = timeout_ms ? timeout_ms : options_.request_timeout_ms;
    std::optional<Result<Reply>> result;
    const uint64_t ref = session_->request(message, [&](Result<Reply> r) { result.emplace(std::move(r)); }, timeout);
    return wait_for(ref, result, timeout, "an answer");
  }

  // The next unsolicited message, or nullopt after timeout_ms (at least 1), once the connection closed
  // (closed() then says so) or when interrupted.
  std::optional<Reply> next_event(uint64_t timeout_ms);
  bool closed() const { return closed_; }
  const std::string& close_reason() const { return close_reason_; }
  // Lets the loop run for a while (keeps the connection serviced), e.g. between commands.
  void run_for(uint64_t ms);
  const std::string& server() const { return server_; }

  // How many times SIGINT or SIGTERM arrived while a BlockingClient existed (process-wide).
  static int interruptions() { return interruptions_; }
  static bool interrupted() { return interruptions_ > 0; }

 private:
  // Runs the loop until done(), timeout_ms passed (0: no limit other than a signal) or a signal
  // arrived; false unless done().
  bool run_until(const std::function<bool()>& done, uint64_t timeout_ms);
  // Waits for a request's result; without one (backstop passed, interrupted) forgets the request
  // and says why.
  Result<Reply> wait_for(uint64_t ref, std::optional<Result<Reply>>& result, uint64_t timeout_ms, const char* what);

  // Counted by the signal watchers' callbacks, which run on the loop (not in a signal handler).
  static int interruptions_;

  uv_loop_t loop_;
  Session::Options options_;
  std::string server_;
  std::unique_ptr<Session> session_;
  uv_signal_t interrupt_{}, terminate_{};
  std::deque<Reply> events_;
  bool closed_ = false;
  std::string close_reason_;
};

}  // namespace ix::tools
