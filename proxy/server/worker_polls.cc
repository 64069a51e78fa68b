#include "proxy/server/worker_polls.h"

#include <utility>

namespace ix::proxy {

WorkerPolls::WorkerPolls(uv_loop_t* loop, PostToWorker post)
    : loop_(loop), post_(std::move(post)), mailbox_(net::LoopMailbox::create(loop)) {}

WorkerPolls::~WorkerPolls() { close(); }

void WorkerPolls::ask(size_t workers, Ask ask, uint64_t timeout_ms, Done done) {
  if (mailbox_ == nullptr) return;  // closed: the proxy is stopping
  const uint64_t id = board_->next_id++;
  Poll& poll = board_->polls[id];
  poll.answers.resize(workers);
  poll.waiting = workers;
  poll.done = std::move(done);
  poll.deadline = std::make_unique<net::Timer>(loop_);
  // The bound; with no worker to ask it fires on the next turn, so done never runs in here.
  poll.deadline->start(workers == 0 ? 0 : timeout_ms, [board = std::weak_ptr<Board>(board_), id] {
    if (auto b = board.lock()) finish(*b, id);
  });
  auto shared_ask = std::make_shared<Ask>(std::move(ask));
  for (size_t worker = 0; worker < workers; ++worker) {
    // The worker holds the board only weakly and never touches it: its answer goes through the
    // mailbox to the admin loop, where the board lives.
    post_(worker, [board = std::weak_ptr<Board>(board_), mailbox = mailbox_, shared_ask, id, worker](ProxyWorker& w) {
      nlohmann::json value = (*shared_ask)(w);
      mailbox->post([board, id, worker, value = std::move(value)]() mutable {
        if (auto b = board.lock()) answered(*b, id, worker, std::move(value));
      });
    });
  }
}

size_t WorkerPolls::open() const { return board_->polls.size(); }

void WorkerPolls::answered(Board& board, uint64_t id, size_t worker, nlohmann::json value) {
  auto it = board.polls.find(id);
  if (it == board.polls.end()) return;  // finished at its bound: too late
  Poll& poll = it->second;
  if (worker >= poll.answers.size() || poll.answers[worker]) return;
  poll.answers[worker] = std::move(value);
  if (--poll.waiting == 0) finish(board, id);
}

void WorkerPolls::finish(Board& board, uint64_t id) {
  auto it = board.polls.find(id);
  if (it == board.polls.end()) return;
  Answers answers = std::move(it->second.answers);
  Done done = std::move(it->second.done);
  board.polls.erase(it);  // stops the deadline (this may be its callback: the handle closes later)
  if (done) done(std::move(answers));
}

void WorkerPolls::close() {
  if (mailbox_ == nullptr) return;
  board_->polls.clear();
  mailbox_->close();
  mailbox_ = nullptr;
}

}  // namespace ix::proxy
