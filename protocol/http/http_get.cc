#include "protocol/http/http_get.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

namespace ix::http {

namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Waits until fd is ready for `events` or the deadline passes.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, remaining_ms(deadline)) > 0;
}

Result<HttpReply> exchange(const std::string& method, const std::string& host, uint16_t port, const std::string& path,
                           const std::string& body, uint64_t timeout_ms);

}  // namespace

Result<HttpReply> http_get(const std::string& host, uint16_t port, const std::string& path, uint64_t timeout_ms) {
  return exchange("GET", host, port, path, "", timeout_ms);
}

Result<HttpReply> http_post(const std::string& host, uint16_t port, const std::string& path, const std::string& body,
                            uint64_t timeout_ms) {
  return exchange("POST", host, port, path, body, timeout_ms);
}

namespace {

Result<HttpReply> exchange(const std::string& method, const std::string& host, uint16_t port, const std::string& path,
                           const std::string& body, uint64_t timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const std::string where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &addresses); rc != 0) {
    return Error{0, "cannot resolve " + host + ": " + gai_strerror(rc)};
  }
  const int fd = ::socket(addresses->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int rc = ::connect(fd, addresses->ai_addr, addresses->ai_addrlen);
  ::freeaddrinfo(addresses);
  auto fail = [fd](std::string text) {
    ::close(fd);
    return Error{0, std::move(text)};
  };
  if (rc != 0 && errno != EINPROGRESS) return fail("cannot connect to " + where + ": " + std::strerror(errno));
  if (!wait_for(fd, POLLOUT, deadline)) return fail("cannot connect to " + where + ": timed out");
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0) return fail("cannot connect to " + where + ": " + std::strerror(error));

  std::string request = method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n";
  if (method != "GET") request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  request += "\r\n" + body;
  for (size_t sent = 0; sent < request.size();) {
    if (!wait_for(fd, POLLOUT, deadline)) return fail(where + " did not take the request in time");
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN) return fail("sending to " + where + ": " + std::strerror(errno));
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string response;
  for (;;) {
    if (!wait_for(fd, POLLIN, deadline)) return fail(where + " did not answer " + path + " in time");
    char buffer[16384];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) break;
    if (n < 0 && errno != EAGAIN) return fail("reading from " + where + ": " + std::strerror(errno));
    if (n > 0) response.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  const size_t header_end = response.find("\r\n\r\n");
  if (response.compare(0, 5, "HTTP/") != 0 || header_end == std::string::npos) {
    return Error{0, where + " answered " + path + " with something that is not HTTP"};
  }
  HttpReply reply;
  reply.status = std::atoi(response.c_str() + response.find(' ') + 1);
  reply.body = response.substr(header_end + 4);
  return reply;
}

}  // namespace
}  // namespace ix::http
