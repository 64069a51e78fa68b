#include "proxy/server/proxy_server.h"
#include "proxy/server/status_page.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "cluster-config/proxy_secret.h"
#include "cluster-config/tls.h"
#include "protocol/http/process_metrics.h"
#include "protocol/log.h"
#include "proxy/server/proxy_worker.h"

namespace ix::proxy {

namespace {

// The pacing master's lease request and answer, in the protocol's terms and back.
LeaseRequest lease_request(const pacing::MasterLease::Request& r) {
  static constexpr proto::LeaseOperation kOperations[] = {proto::LeaseOperation::Acquire, proto::LeaseOperation::Renew,
                                                          proto::LeaseOperation::Release};
  return LeaseRequest{r.name, r.holder, kOperations[static_cast<int>(r.operation)], r.ttl_ms};
}

pacing::MasterLease::Reply lease_reply(const LeaseAnswer& answer) {
  pacing::MasterLease::Reply reply;
  if (!answer) {
    reply.error = std::to_string(answer.error().code) + " " + answer.error().text;
    return reply;
  }
  reply.ok = true;
  reply.holder = answer->holder;
  reply.fencing = answer->fencing;
  reply.ttl_left_ms = answer->ttl_left_ms;
  reply.granted = answer->granted;
  return reply;
}

}  // namespace

// One worker loop on its own thread, and the queue through which other threads reach it.
class ProxyServer::WorkerThread {
 public:
  using Task = std::function<void(ProxyWorker&)>;

  WorkerThread(std::shared_ptr<const RoutingTable> table, WorkerOptions options, metrics::Registry& metrics)
      : table_(std::move(table)), options_(std::move(options)), metrics_(metrics) {}

  ~WorkerThread() { join(); }

  Status start() {
    std::promise<Status> started;
    std::future<Status> result = started.get_future();
    thread_ = std::thread([this, &started] { run(started); });
    Status status = result.get();
    if (!status) join();
    return status;
  }

  // From any thread. The send happens under the lock that the close takes too, so a worker
  // posting to one that is shutting down never touches a closed handle.
  void post(Task task) {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    tasks_.push_back(std::move(task));
    uv_async_send(&async_);
  }

  void stop() {
    post([this](ProxyWorker& w) {
      w.stop();
      std::lock_guard lock(mutex_);
      closed_ = true;
      uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
    });
  }

  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run(std::promise<Status>& started) {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &async_, [](uv_async_t* a) { static_cast<WorkerThread*>(a->data)->drain(); });
    async_.data = this;
    worker_ = std::make_unique<ProxyWorker>(&loop_, table_, options_, metrics_);
    Status status = worker_->start();
    if (!status) {
      worker_->stop();
      std::lock_guard lock(mutex_);
      uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
      closed_ = true;
    }
    started.set_value(status);
    uv_run(&loop_, UV_RUN_DEFAULT);
    worker_.reset();  // closes the remaining timer handles
    uv_run(&loop_, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop_) != 0) spdlog::error("event=worker_loop_not_closed worker={}", options_.index);
  }

  void drain() {
    std::deque<Task> tasks;
    {
      std::lock_guard lock(mutex_);
      tasks.swap(tasks_);
    }
    for (Task& task : tasks) task(*worker_);
  }

  std::shared_ptr<const RoutingTable> table_;
  WorkerOptions options_;
  metrics::Registry& metrics_;
  std::thread thread_;
  uv_loop_t loop_;
  uv_async_t async_;
  std::mutex mutex_;
  std::deque<Task> tasks_;
  bool closed_ = false;
  std::unique_ptr<ProxyWorker> worker_;
};

ProxyServer::ProxyServer(uv_loop_t* loop, std::shared_ptr<const config::ClusterConfig> config, std::string proxy_id)
    : loop_(loop),
      config_(std::move(config)),
      table_(std::make_shared<const RoutingTable>(config_)),
      proxy_id_(std::move(proxy_id)),
      admin_(loop, metrics_, "ixproxy") {
  const config::Proxy* proxy = config_->proxy(proxy_id_);
  // The feed's bound follows reporting-buffer (feed_queue_limit), and its cut-offs are counted
  // from start-up on.
  feed_ = std::make_shared<ReportingFeed>(proxy ? proxy->settings.workers : 1,
                                          feed_queue_limit(proxy ? proxy->settings.reporting_buffer : 0));
  feed_->count_cut_offs(metrics_);
}

ProxyServer::~ProxyServer() { stop(); }

Status ProxyServer::start() {
  const config::Proxy* proxy = config_->proxy(proxy_id_);
  // Every worker exists before any starts: a worker may post to another from its first client
  // on (the reporting feed), and workers_ does not change again until stop().
  auto post = [this](int worker, std::function<void(ProxyWorker&)> task) { workers_[static_cast<size_t>(worker)]->post(std::move(task)); };
  // How this proxy authenticates to nodes (docs/operations.md, "Proxy authentication"): the
  // secret is read once, here; a link TLS context that cannot be built stops the start rather
  // than leaving a pair unreachable.
  Result<std::string> secret = config::load_proxy_secret(*config_);
  if (!secret) return secret.error();
  for (const config::NodePair& pair : config_->node_pairs) {
    if (!pair.tls.enabled) continue;
    if (auto tls = config::client_tls(pair.tls, proxy->link_tls); !tls) {
      return Error{tls.error().code, "TLS to node pair " + pair.id + " (node-pairs[" + pair.id + "].tls, proxies[" + proxy_id_ +
                                         "].link-tls): " + tls.error().text};
    }
  }
  for (uint32_t i = 0; i < proxy->settings.workers; ++i) {
    workers_.push_back(
        std::make_unique<WorkerThread>(table_, WorkerOptions{proxy_id_, static_cast<int>(i), feed_, post, secret.value()}, metrics_));
  }
  for (uint32_t i = 0; i < proxy->settings.workers; ++i) {
    if (Status s = workers_[i]->start(); !s) {
      stop();
      return Error{s.error().code, "worker " + std::to_string(i) + ": " + s.error().text};
    }
  }
  // A stream asked for before start (or from now on) is started on worker 0.
  feed_->set_stream_starter([post] { post(0, [](ProxyWorker& first) { first.start_stream(); }); });
  start_pacing();
  polls_ = std::make_unique<WorkerPolls>(loop_, [post](size_t worker, std::function<void(ProxyWorker&)> task) {
    post(static_cast<int>(worker), std::move(task));
  });
  admin_.set_status_async([this](http::AdminServer::StatusReply reply) { status(std::move(reply)); });
  admin_.set_readiness_async([this](http::AdminServer::ReadinessReply reply) { readiness(std::move(reply)); });
  admin_.http().route("GET", "/", [](const http::HttpRequest&) {
    http::HttpResponse page;
    page.content_type = "text/html; charset=utf-8";
    page.body = std::string(status_page_html());
    return page;
  });
  watch_ = std::make_unique<ClusterWatch>(config_, metrics_);
  watch_->start();
  if (Status s = admin_.listen(net::Endpoint{proxy->endpoint.host, proxy->endpoint.admin_port}); !s) {
    stop();
    return Error{s.error().code, "admin port: " + s.error().text};
  }
  // The proxy's id is a field of every line (ixproxy's main sets it), not repeated here.
  spdlog::info("event=started port={} admin_port={} workers={} pairs={}", proxy->endpoint.port, admin_.port(), workers_.size(),
               config_->node_pairs.size());
  return {};
}

ProxyServer::LeaseCall ProxyServer::lease_call() {
  return [this](LeaseRequest request, LeaseDone done) {
    workers_.front()->post([request = std::move(request), done = std::move(done)](ProxyWorker& w) mutable {
      ask_lease(w.requests(), request, std::move(done));
    });
  };
}

void ProxyServer::start_pacing() {
  if (!config_->pacing) return;
  const std::vector<std::string>& runners = config_->pacing->proxies;
  if (!runners.empty() && std::find(runners.begin(), runners.end(), proxy_id_) == runners.end()) return;
  // The module reads the feed as a consumer that is not a worker; it needs the stream whether
  // or not a reporting client asks for it, and its counts start from each pair's state, which
  // worker 0 asks for as it subscribes. Its lease requests go out through worker 0's links.
  pacing_ = std::make_unique<pacing::PacingModule>(config_, proxy_id_, metrics_);
  pacing_consumer_ = feed_->add_consumer([module = pacing_.get()] { module->wake(); });
  pacing_->start({[feed = feed_, id = pacing_consumer_] { return feed->take_consumer(id); },
                  // Stale when the stream is not flowing, or the module fell so far behind
                  // that the feed cut it off (its counts then miss events).
                  [feed = feed_, id = pacing_consumer_] { return feed->subscribed() && !feed->cut_off(id); },
                  [call = lease_call()](pacing::MasterLease::Request request,
                                        std::function<void(pacing::MasterLease::Reply)> done) {
                    call(lease_request(request), [done = std::move(done)](LeaseAnswer answer) { done(lease_reply(answer)); });
                  },
                  // Cut off: fed again from now on, seeded again by the pairs' states.
                  [this, feed = feed_, id = pacing_consumer_] {
                    if (!feed->rejoin_consumer(id)) return false;
                    workers_.front()->post([](ProxyWorker& first) { first.reseed_consumers(); });
                    return true;
                  }});
  feed_->start_stream();
}

void ProxyServer::stop() {
  if (pacing_) {
    feed_->remove_consumer(pacing_consumer_);
    pacing_->stop();
    pacing_.reset();
  }
  feed_->set_stream_starter(nullptr);  // workers_ is about to go
  if (watch_) watch_->stop();
  for (auto& worker : workers_) worker->stop();
  for (auto& worker : workers_) worker->join();
  workers_.clear();
  // After the workers: none of them can answer a poll any more (WorkerPolls::close).
  if (polls_) polls_->close();
  admin_.close();
}

std::vector<std::string> ProxyServer::reload(std::shared_ptr<const config::ClusterConfig> config) {
  if (config->proxy(proxy_id_) == nullptr) {
    // No worker could run it: none is asked, the proxy keeps running as it is.
    std::vector<std::string> refused{"proxy " + proxy_id_ + " is no longer in the file"};
    record_reload(refused);
    return refused;
  }
  config_ = config;
  table_ = std::make_shared<const RoutingTable>(config, table_.get());
  if (watch_) watch_->set_config(config);
  feed_->set_max_queued(feed_queue_limit(config->proxy(proxy_id_)->settings.reporting_buffer));
  if (pacing_) pacing_->reload(config);  // first: worker 0 asks the pairs' states for its new targets
  record_reload({});
  if (!polls_) return {};  // not started: the workers start on the new table
  const uint64_t reload = reloads_;
  polls_->ask(workers_.size(), [table = table_](ProxyWorker& w) {
    w.reload(table);
    return nlohmann::json(true);
  }, kAdminWorkerWaitMs, [this, reload](WorkerPolls::Answers answers) {
    nlohmann::json late = nlohmann::json::array();
    for (size_t i = 0; i < answers.size(); ++i) {
      if (!answers[i]) late.push_back(i);
    }
    if (late.empty()) return;
    spdlog::warn("event=reload_late workers={} wait_ms={} detail={}", late.dump(), kAdminWorkerWaitMs,
                 quote("these workers apply the reloaded configuration when their loops are free"));
    if (reloads_ == reload) last_reload_["late_workers"] = std::move(late);  // still the last reload
  });
  return {};
}

void ProxyServer::reload_refused(const std::vector<std::string>& reasons) { record_reload(reasons); }

void ProxyServer::record_reload(const std::vector<std::string>& refused) {
  metrics::record_config_reload(metrics_, refused.empty());
  ++reloads_;
  last_reload_ = {{"applied", refused.empty()},
                  {"at_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count()},
                  {"errors", refused}};
}

void ProxyServer::run_on_worker(size_t worker, std::function<void(ProxyWorker&)> task) {
  if (worker < workers_.size()) workers_[worker]->post(std::move(task));
}

void ProxyServer::status(http::AdminServer::StatusReply reply) {
  const config::Proxy* proxy = config_->proxy(proxy_id_);
  nlohmann::json out{{"proxy", proxy_id_}, {"cluster", proxy->cluster}, {"port", proxy->endpoint.port}};
  if (!polls_) {  // not started (or stopped): no worker to ask
    out["workers"] = nlohmann::json::array();
    return reply(std::move(out));
  }
  // Asked without waiting: the admin loop serves /metrics and the rest meanwhile, and a stuck
  // worker delays this answer by kAdminWorkerWaitMs at most.
  polls_->ask(workers_.size(), [](ProxyWorker& w) { return w.status(); }, kAdminWorkerWaitMs,
              [this, out = std::move(out), reply = std::move(reply)](WorkerPolls::Answers answers) mutable {
                nlohmann::json workers = nlohmann::json::array();
                nlohmann::json unanswered = nlohmann::json::array();
                for (size_t i = 0; i < answers.size(); ++i) {
                  if (answers[i]) {
                    workers.push_back(std::move(*answers[i]));
                    continue;
                  }
                  workers.push_back({{"worker", i},
                                     {"error", "worker " + std::to_string(i) + " did not answer within " +
                                                   std::to_string(kAdminWorkerWaitMs) + " ms"}});
                  unanswered.push_back(i);
                }
                if (!unanswered.empty()) {
                  spdlog::warn("event=admin_worker_unanswered request=status workers={} wait_ms={}", unanswered.dump(),
                               kAdminWorkerWaitMs);
                }
                // The first answering worker's view of the pairs stands for the proxy (all
                // workers watch the same nodes).
                for (const nlohmann::json& w : workers) {
                  if (w.contains("pairs")) {
                    out["pairs"] = w["pairs"];
                    break;
                  }
                }
                out["workers"] = std::move(workers);
                out["unanswered_workers"] = std::move(unanswered);
                if (watch_) out["overview"] = watch_->snapshot();
                if (pacing_) out["pacing"] = pacing_->status();
                if (!last_reload_.is_null()) out["reload"] = last_reload_;
                reply(std::move(out));
              });
}

void ProxyServer::readiness(http::AdminServer::ReadinessReply reply) {
  if (workers_.empty() || !polls_) return reply({false, "no worker is running"});
  // Worker 0 holds the view of the pairs that readiness reports (every worker links to the
  // same nodes); asked without waiting, like /status.
  polls_->ask(
      1,
      [](ProxyWorker& w) {
        nlohmann::json media = nlohmann::json::array();
        for (const std::string& m : w.unserved_media()) media.push_back(m);
        return media;
      },
      kAdminWorkerWaitMs, [reply = std::move(reply)](WorkerPolls::Answers answers) {
        if (answers.empty() || !answers[0]) {
          spdlog::warn("event=admin_worker_unanswered request=readyz workers=[0] wait_ms={}", kAdminWorkerWaitMs);
          return reply({false, "worker 0 did not answer within " + std::to_string(kAdminWorkerWaitMs) + " ms"});
        }
        if (answers[0]->empty()) return reply({true, ""});
        std::string media;
        for (const nlohmann::json& m : *answers[0]) media += (media.empty() ? "" : ", ") + m.get<std::string>();
        reply({false, "no reachable node pair serves media: " + media});
      });
}

}  // namespace ix::proxy
