// ixproxy: the stateless routing proxy in front of the node pairs.
//
//   ixproxy --config FILE --proxy PROXY-ID [--log-level info] [--log-file PATH] [--ports-file PATH]
//
// With --ports-file the proxy writes the ports it listens on (the ones the OS chose when the
// configuration says port 0) to PATH once every worker and the admin port listen; see
// cluster-config/ports_file.h.
//
// SIGTERM/SIGINT stop it gracefully (agents it logged in are logged out, clients closed);
// SIGHUP reloads the configuration file and applies the routing table without dropping clients;
// SIGUSR1 reopens the --log-file (logrotate). Every log line carries the proxy's id.
#include <CLI/CLI.hpp>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "cluster-config/config_store.h"
#include "cluster-config/ports_file.h"
#include "cluster-config/reload_log.h"
#include "protocol/build_info.h"
#include "protocol/net/endpoint.h"
#include "protocol/http/process_metrics.h"
#include "protocol/log.h"
#include "protocol/net/process_signals.h"
#include "proxy/server/proxy_server.h"

namespace {

// A port the configuration leaves to the OS (0). Every worker listens on the proxy's client port
// with SO_REUSEPORT; left to themselves they would each get a different port. So the ports are
// chosen here, once, before the server starts (and the server is given them as its
// configuration, so its status and its cluster overview name the real ports): a socket bound to
// port 0 with SO_REUSEADDR and SO_REUSEPORT keeps the port the OS picked while the workers (or
// the admin listener) bind the same one — allowed because it never listens, and for the same
// user. It takes no connections; main closes it once the server listens.
struct HeldPort {
  int fd = -1;
  uint16_t port = 0;
  std::string error;
};

HeldPort hold_os_chosen_port(const std::string& host) {
  HeldPort held;
  ix::Result<sockaddr_storage> address = ix::net::numeric_address({host, 0});
  if (!address) {
    held.error = address.error().text;
    return held;
  }
  const int fd = ::socket(address->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int on = 1;
  socklen_t length = address->ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0 ||
      ::bind(fd, reinterpret_cast<const sockaddr*>(&*address), length) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&*address), &length) != 0) {
    held.error = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return held;
  }
  held.fd = fd;
  held.port = ntohs(address->ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&*address)->sin6_port
                                                   : reinterpret_cast<const sockaddr_in*>(&*address)->sin_port);
  return held;
}

// The configuration as this process runs it: the proxy's ports that are 0 in the file replaced
// by the ones chosen at start.
std::shared_ptr<const ix::config::ClusterConfig> with_ports(std::shared_ptr<const ix::config::ClusterConfig> config,
                                                            const std::string& proxy_id, uint16_t port, uint16_t admin_port) {
  const ix::config::Proxy* proxy = config->proxy(proxy_id);
  if (proxy == nullptr || (proxy->endpoint.port != 0 && proxy->endpoint.admin_port != 0)) return config;
  auto copy = std::make_shared<ix::config::ClusterConfig>(*config);
  for (ix::config::Proxy& p : copy->proxies) {
    if (p.id != proxy_id) continue;
    if (p.endpoint.port == 0) p.endpoint.port = port;
    if (p.endpoint.admin_port == 0) p.endpoint.admin_port = admin_port;
  }
  return copy;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ixproxy: makes every node pair of the cluster look like one interaction server"};
  std::string config_path, proxy_id, log_level = "info", ports_file, log_file;
  app.set_version_flag("--version", "ixproxy " + std::string(ix::build_version()) + " (commit " + std::string(ix::build_commit()) + ")");
  app.add_option("--config", config_path, "Cluster configuration file (TOML)")->required();
  app.add_option("--proxy", proxy_id, "ID of this proxy in [[proxies]]")->required();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.add_option("--log-file", log_file, "Also append the log to this file (reopened on SIGUSR1, for logrotate)");
  app.add_option("--ports-file", ports_file,
                 "Once listening, write the client and admin ports to this file as {\"port\": N, \"admin-port\": M} "
                 "(atomically; useful with port 0 in the configuration, where the OS chooses)");
  CLI11_PARSE(app, argc, argv);

  if (std::string error; !ix::init_logging("ixproxy", log_level, log_file, &error)) {
    std::cerr << "ixproxy: " << error << "\n";
    return 2;
  }
  ix::set_log_fields([fields = "proxy=" + proxy_id] { return fields; });
  std::unique_ptr<ix::config::ConfigStore> config;
  ix::config::LoadResult loaded = ix::config::ConfigStore::open(config_path, config);
  if (!loaded.ok()) {
    std::cerr << loaded.error_text();
    return 2;
  }
  if (config->current()->proxy(proxy_id) == nullptr) {
    std::cerr << config_path << ": no proxy \"" << proxy_id << "\" in [[proxies]]\n";
    return 2;
  }

  // Ports left to the OS are chosen (and held) now; see hold_os_chosen_port().
  HeldPort held, held_admin;
  const ix::config::Proxy* proxy = config->current()->proxy(proxy_id);
  for (auto [wanted, hold] : {std::pair{proxy->endpoint.port, &held}, std::pair{proxy->endpoint.admin_port, &held_admin}}) {
    if (wanted != 0) continue;
    *hold = hold_os_chosen_port(proxy->endpoint.host);
    if (hold->fd < 0) {
      spdlog::error("event=start_failed error={}", ix::quote("cannot choose a port on " + proxy->endpoint.host + ": " + hold->error));
      return 1;
    }
  }
  auto running_config = [&] { return with_ports(config->current(), proxy_id, held.port, held_admin.port); };
  uv_loop_t* loop = uv_default_loop();
  ix::proxy::ProxyServer server(loop, running_config(), proxy_id);
  ix::Status started = server.start();
  for (const HeldPort* hold : {&held, &held_admin}) {
    if (hold->fd >= 0) ::close(hold->fd);
  }
  if (!started) {
    spdlog::error("event=start_failed error={}", ix::quote(started.error().text));
    uv_run(loop, UV_RUN_DEFAULT);
    return 1;
  }
  const uint16_t port = running_config()->proxy(proxy_id)->endpoint.port;
  if (!ports_file.empty() && !ix::config::write_ports_file(ports_file, {port, server.admin_port()})) {
    spdlog::error("event=start_failed error={}", ix::quote("cannot write the ports file " + ports_file));
    server.stop();
    uv_run(loop, UV_RUN_DEFAULT);
    return 1;
  }

  ix::net::ProcessSignals signals(
      loop,
      [&] {
        // One line says whether the proxy runs the new file: a file the server refuses (it does
        // not name this proxy) is put back to the previous one, as is a file that did not load.
        std::shared_ptr<const ix::config::ClusterConfig> previous = config->current();
        ix::config::ReloadReport report = config->reload();
        if (report.applied) {
          std::vector<std::string> refused = server.reload(running_config());
          if (!refused.empty()) config->refuse(report, previous, refused);
        } else {
          std::vector<std::string> errors;
          for (const ix::config::ConfigIssue& e : report.errors) errors.push_back(e.to_string());
          server.reload_refused(errors);
        }
        ix::config::log_reload(report, ix::config::ReloadingProcess::Proxy, proxy_id);
      },
      [&](const char* signal) {
        spdlog::info("event=stopping reason={}", signal);
        server.stop();
        signals.close();
      });
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  return 0;
}
