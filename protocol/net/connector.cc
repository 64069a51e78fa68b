#include "protocol/net/connector.h"

#include <algorithm>
#include <cmath>

namespace ix::net {

struct Connector::Resolve {
  uv_getaddrinfo_t request;
  Connector* owner;  // null once the connector stopped or went away
};

Connector::Connector(uv_loop_t* loop, Endpoint endpoint, ConnectorOptions options)
    : loop_(loop),
      endpoint_(std::move(endpoint)),
      options_(std::move(options)),
      retry_timer_(loop),
      random_(static_cast<unsigned>(reinterpret_cast<uintptr_t>(this) ^ uv_hrtime())) {}

Connector::~Connector() { stop(); }

void Connector::start() {
  if (running_) return;
  running_ = true;
  failures_ = 0;
  attempt();
}

void Connector::stop() {
  running_ = false;
  retry_timer_.stop();
  if (resolving_ != nullptr) {
    resolving_->owner = nullptr;
    resolving_ = nullptr;
  }
  if (attempt_) {
    attempt_->clear_callbacks();
    attempt_->close("connector stopped");
    attempt_.reset();
  }
  open_.reset();
}

void Connector::attempt() {
  if (!running_) return;
  ++attempts_;
  auto address = numeric_address(endpoint_);
  if (address) {
    connect_to(reinterpret_cast<const sockaddr*>(&*address));
    return;
  }
  resolving_ = new Resolve{{}, this};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  const std::string port = std::to_string(endpoint_.port);
  int rc = uv_getaddrinfo(loop_, &resolving_->request, [](uv_getaddrinfo_t* req, int status, addrinfo* result) {
    auto* resolve = reinterpret_cast<Resolve*>(req);
    Connector* self = resolve->owner;
    delete resolve;
    if (self == nullptr) {
      uv_freeaddrinfo(result);
      return;
    }
    self->resolving_ = nullptr;
    if (status != 0 || result == nullptr) {
      uv_freeaddrinfo(result);
      self->on_attempt_closed("cannot resolve \"" + self->endpoint_.host + "\": " + uv_strerror(status));
      return;
    }
    self->connect_to(result->ai_addr);
    uv_freeaddrinfo(result);
  }, endpoint_.host.c_str(), port.c_str(), &hints);
  if (rc != 0) {
    delete resolving_;
    resolving_ = nullptr;
    on_attempt_closed(std::string("cannot resolve \"") + endpoint_.host + "\": " + uv_strerror(rc));
  }
}

void Connector::connect_to(const sockaddr* address) {
  attempt_ = Connection::connect(loop_, address, options_.connection, options_.tls);
  attempt_->set_on_open([this] {
    failures_ = 0;
    ++connects_;
    open_ = attempt_;
    if (on_connected_) on_connected_(open_);
  });
  attempt_->set_on_close([this](const std::string& reason) { on_attempt_closed(reason); });
}

void Connector::on_attempt_closed(const std::string& reason) {
  attempt_.reset();
  open_.reset();
  if (!running_) return;
  uint64_t delay = next_backoff();
  retry_timer_.start(delay, [this] { attempt(); });
  if (on_disconnected_) on_disconnected_(endpoint_.to_string() + ": " + reason, delay);
}

uint64_t Connector::next_backoff() {
  double base = static_cast<double>(options_.initial_backoff_ms) * std::pow(2.0, std::min(failures_, 30u));
  base = std::min(base, static_cast<double>(options_.max_backoff_ms));
  ++failures_;
  std::uniform_real_distribution<double> spread(1.0 - options_.jitter, 1.0 + options_.jitter);
  return static_cast<uint64_t>(std::max(1.0, base * spread(random_)));
}

}  // namespace ix::net
