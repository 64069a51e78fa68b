#include "protocol/net/listener.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace ix::net {

struct Listener::Handle {
  uv_tcp_t tcp;
  Listener* owner;
};

Listener::Listener(ListenerOptions options, AcceptCallback on_accept)
    : options_(std::move(options)), on_accept_(std::move(on_accept)) {}

Listener::~Listener() { close(); }

Result<std::unique_ptr<Listener>> Listener::listen(uv_loop_t* loop, const Endpoint& endpoint,
                                                   ListenerOptions options, AcceptCallback on_accept) {
  auto address = numeric_address(endpoint);
  if (!address) return Error{0, "cannot listen on " + endpoint.to_string() + ": " + address.error().text};

  std::unique_ptr<Listener> listener(new Listener(std::move(options), std::move(on_accept)));
  listener->handle_ = new Handle{{}, listener.get()};
  uv_tcp_t* tcp = &listener->handle_->tcp;
  tcp->data = listener->handle_;
  const auto* sa = reinterpret_cast<const sockaddr*>(&*address);
  uv_tcp_init_ex(loop, tcp, sa->sa_family);

  auto fail = [&](const std::string& what, int rc) -> Error {
    return Error{0, "cannot listen on " + endpoint.to_string() + ": " + what + ": " + uv_strerror(rc)};
  };
  if (listener->options_.reuse_port) {
    uv_os_fd_t fd;
    uv_fileno(reinterpret_cast<uv_handle_t*>(tcp), &fd);
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) return fail("SO_REUSEPORT", -errno);
  }
  if (int rc = uv_tcp_bind(tcp, sa, 0); rc != 0) return fail("bind", rc);
  int rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp), listener->options_.backlog,
                     [](uv_stream_t* server, int status) {
                       auto* handle = static_cast<Handle*>(server->data);
                       if (handle->owner != nullptr) handle->owner->on_connection(status);
                     });
  if (rc != 0) return fail("listen", rc);

  sockaddr_storage bound{};
  int length = sizeof bound;
  uv_tcp_getsockname(tcp, reinterpret_cast<sockaddr*>(&bound), &length);
  listener->port_ = ntohs(bound.ss_family == AF_INET6
                              ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                              : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return listener;
}

void Listener::on_connection(int status) {
  if (status != 0) return;  // EMFILE and friends: the next connection may succeed
  auto* server = reinterpret_cast<uv_stream_t*>(&handle_->tcp);
  std::shared_ptr<Connection> connection = Connection::accept(server, options_.connection, options_.tls);
  if (!connection) return;
  ++accepted_;
  if (on_accept_) {
    on_accept_(std::move(connection));
  } else {
    connection->abort("not accepting connections");
  }
}

void Listener::close() {
  if (handle_ == nullptr) return;
  handle_->owner = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_->tcp),
           [](uv_handle_t* h) { delete static_cast<Handle*>(h->data); });
  handle_ = nullptr;
}

}  // namespace ix::net
