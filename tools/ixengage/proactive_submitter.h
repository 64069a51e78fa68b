// ProactiveSubmitter: how an accepted invitation becomes a proactive chat in the cluster. It
// keeps one registered media-server connection (tools/client Session) to each proxy it was given,
// reconnecting a lost one after a second, and submits each accepted invitation through the next
// connected proxy in turn: tenant and media of the pacing target, the configured queue,
// interaction type "Outbound", subtype "Proactive", and the user data ixsim's own proactive
// submissions carry ("proactive" = 1 and the virtual-queue key naming the target's virtual
// queue), so that ixsim's routing engine gives them to the target's agent groups.
//
// Asynchronous on the simulator's one loop: submit() returns at once and its callback runs from
// the loop when the proxy answers, so the HTTPS side never waits for the cluster.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "protocol/net/endpoint.h"
#include "protocol/net/timer.h"
#include "protocol/net/tls_context.h"
#include "protocol/result.h"
#include "tools/client/session.h"

namespace ix::engage {

struct ProxyAddress {
  net::Endpoint endpoint;
  std::shared_ptr<net::TlsContext> tls;  // null = plain TCP
};

struct ProactiveChat {
  std::string tenant;
  std::string media;
  std::string virtual_queue;
  uint64_t invitation = 0;  // the simulator's invitation number, carried as ixengage-invitation
};

class ProactiveSubmitter {
 public:
  // The interaction ID the proxy gave the new interaction, or why there is none.
  using Done = std::function<void(Result<std::string>)>;

  ProactiveSubmitter(uv_loop_t* loop, std::vector<ProxyAddress> proxies, std::string queue, std::string virtual_queue_key);
  ~ProactiveSubmitter();
  ProactiveSubmitter(const ProactiveSubmitter&) = delete;
  ProactiveSubmitter& operator=(const ProactiveSubmitter&) = delete;

  void start();
  void stop();
  bool enabled() const { return !links_.empty(); }
  void submit(const ProactiveChat& chat, Done done);
  // Per proxy: connected, submitted, failures, last error.
  nlohmann::json state() const;

 private:
  struct Link {
    ProxyAddress address;
    std::unique_ptr<tools::Session> session;
    std::unique_ptr<net::Timer> retry;
    bool ready = false;
    bool failure_reported = false;  // said so on stderr since the last success
    uint64_t submitted = 0;
    uint64_t failures = 0;
    std::string last_error;
  };
  void open(Link& link);
  void reopen_later(Link& link, const std::string& why);

  uv_loop_t* loop_;
  std::string queue_;
  std::string virtual_queue_key_;
  std::vector<std::unique_ptr<Link>> links_;
  size_t next_ = 0;
  bool stopped_ = false;
};

}  // namespace ix::engage
