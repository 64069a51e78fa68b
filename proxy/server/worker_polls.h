// WorkerPolls: the admin port's questions to the proxy's worker threads (/status, /readyz),
// answered without blocking the admin loop. A poll posts its question to each worker it asks;
// each worker answers on its own thread, and the answer comes back to the admin loop through a
// LoopMailbox. The poll finishes when every worker asked has answered or when its bound passes,
// whichever comes first; then done() runs once, on the admin loop, with the answers that came
// (nullopt for the workers that did not answer — a stuck worker is named, never waited for).
// Answers that arrive after the poll finished are dropped.
//
// Owned by ProxyServer on the admin loop thread. close() cancels the polls still open (their
// done() never runs) and must come after every worker thread has stopped, so that no worker
// posts to the mailbox after it: what a stuck worker still holds refers to the polls only
// through a weak pointer, and the mailbox outlives its owner.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "protocol/net/loop_mailbox.h"
#include "protocol/net/timer.h"

namespace ix::proxy {

class ProxyWorker;

class WorkerPolls {
 public:
  using Answers = std::vector<std::optional<nlohmann::json>>;  // by worker asked, in asking order
  using Done = std::function<void(Answers)>;
  using Ask = std::function<nlohmann::json(ProxyWorker&)>;  // runs on the worker's thread
  // Runs a task on worker `worker`'s thread (a worker that is stopping may drop it).
  using PostToWorker = std::function<void(size_t worker, std::function<void(ProxyWorker&)> task)>;

  // On the admin loop's thread.
  WorkerPolls(uv_loop_t* loop, PostToWorker post);
  ~WorkerPolls();
  WorkerPolls(const WorkerPolls&) = delete;
  WorkerPolls& operator=(const WorkerPolls&) = delete;

  // Asks workers 0 .. workers-1; done runs on the admin loop once all answered or after
  // timeout_ms, never inside this call.
  void ask(size_t workers, Ask ask, uint64_t timeout_ms, Done done);
  // Polls still waiting for an answer.
  size_t open() const;
  // Cancels the open polls and closes the mailbox; call once every worker thread has stopped.
  // Idempotent.
  void close();

 private:
  struct Poll {
    Answers answers;
    size_t waiting = 0;
    Done done;
    std::unique_ptr<net::Timer> deadline;
  };
  // Admin loop only; shared so that late answers (mailbox closures) can tell it is gone.
  struct Board {
    std::map<uint64_t, Poll> polls;
    uint64_t next_id = 0;
  };
  static void answered(Board& board, uint64_t id, size_t worker, nlohmann::json value);
  static void finish(Board& board, uint64_t id);

  uv_loop_t* loop_;
  PostToWorker post_;
  net::LoopMailbox* mailbox_;  // frees itself after close()
  std::shared_ptr<Board> board_ = std::make_shared<Board>();
};

}  // namespace ix::proxy
