// The cost of ixproxy against a plain TCP forwarder, side by side in one run on one machine (real
// processes on loopback, one ixnode as pair-1's primary):
//   direct   the clients talk straight to the node;
//   haproxy  through HAProxy in TCP mode (one thread), in front of the same node;
//   ixproxy  through an ixproxy whose cluster is that one pair (`--workers` loops);
//   baseline with `--baseline PATH`: a second ixproxy binary (an earlier build) in front of the
//            same node, measured in the same rounds, for a before/after on a shared machine.
//
// Sections (all by default; `--only NAME` runs one):
//   forward  get-properties (and submit) throughput for 1 and 8 client connections and 16 and
//            200 requests in flight per connection, in interleaved rounds (median of
//            `--rounds`): requests/s, ratio to direct, and CPU per request of each forwarder
//            and of the node (utime + stime from /proc/PID/stat) with the share of a core each
//            used while the run lasted;
//   latency  get-properties p50/p99 at fixed rates of 2,000 and 20,000/s on one connection;
//   idle     `--idle N` registered idle connections on ixproxy: how long registering them took,
//            the proxy's RSS per connection, and the latency on one more connection meanwhile.
// The machine's load average is printed with every section: absolute figures on a shared
// machine move, ratios measured in the same round much less. `--case CxW` runs one forward case
// (C connections, W in flight each; submit is `submit`), for profiling one shape.
//
//   proxy_bench IXNODE IXPROXY [requests=200000] [--rounds 3] [--workers 1] [--idle 10000]
//               [--haproxy /usr/sbin/haproxy] [--only forward|latency|idle] [--case 1x200]
//               [--baseline OLD_IXPROXY]
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "perf/bench_client.h"
#include "perf/proc_stats.h"
#include "protocol/wire/kv.h"
#include "tests/support/http_exchange.h"
#include "tests/support/process.h"

namespace {

using namespace ix;
using bench::cpu_seconds;
using bench::load_average;
using bench::median;
using bench::rss_bytes;

struct Ports {
  uint16_t node = 0, node_admin = 0, backup = 0, backup_admin = 0, proxy = 0, proxy_admin = 0, haproxy = 0, baseline = 0,
           baseline_admin = 0;
};

std::string cluster_config(const Ports& p, int workers) {
  auto proxy = [workers](const char* id, uint16_t port, uint16_t admin) {
    return std::string("[[proxies]]\nid = \"") + id + "\"\ncluster = \"bench\"\nhost = \"127.0.0.1\"\nport = " + std::to_string(port) +
           "\nadmin-port = " + std::to_string(admin) + "\n[proxies.settings]\nworkers = " + std::to_string(workers) + "\n";
  };
  auto endpoint = [](const char* section, uint16_t port, uint16_t admin) {
    return std::string("[") + section + "]\nhost = \"127.0.0.1\"\nport = " + std::to_string(port) +
           "\nadmin-port = " + std::to_string(admin) + "\n";
  };
  return "[[tenants]]\nid = \"101\"\n[[media-types]]\nname = \"chat\"\n"
         "[[node-pairs]]\nid = \"pair-1\"\ntag = \"b1\"\ntenants = [\"101\"]\n" +
         endpoint("node-pairs.primary", p.node, p.node_admin) + endpoint("node-pairs.backup", p.backup, p.backup_admin) +
         "[node-pairs.storage]\nsqlite-path = \"pair-1.db\"\n"
         // Every round's submits stay open: room for many rounds.
         "[node-pairs.settings]\nmax-live-interactions = 100000000\n"
         "[[proxy-clusters]]\nid = \"bench\"\n" + proxy("proxy", p.proxy, p.proxy_admin) +
         proxy("baseline", p.baseline, p.baseline_admin) + "[[queues]]\nid = \"inbound\"\ntenant = \"101\"\n" +
         // The proxy authenticates to the node with a secret (main sets the variable).
         "[proxy-auth]\nsecret-env = \"IX_BENCH_PROXY_SECRET\"\n";
}

// HAProxy 2.6 as a plain TCP forwarder: one thread, no logging, the node as its only server.
std::string haproxy_config(const Ports& p) {
  return "global\n  nbthread 1\n  maxconn 4000\n"
         "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 300s\n  timeout server 300s\n"
         "listen bench\n  bind 127.0.0.1:" +
         std::to_string(p.haproxy) + "\n  server node 127.0.0.1:" + std::to_string(p.node) + "\n";
}

double percentile(const std::vector<double>& sorted, double p) {
  return sorted.empty() ? 0 : sorted[std::min(sorted.size() - 1, static_cast<size_t>(p * static_cast<double>(sorted.size())))];
}

// Registered connections that only wait: the idle-connection figure.
struct IdleClient {
  std::shared_ptr<net::Connection> connection;
  wire::FrameDecoder decoder;
  bool registered = false;
};

}  // namespace

int main(int argc, char** argv) {
  ::setenv("IX_BENCH_PROXY_SECRET", "proxy-bench-secret-0123456789", 0);
  std::vector<std::string> positional;
  int rounds = 3, workers = 1, idle = 10000;
  std::string haproxy = "/usr/sbin/haproxy", only, only_case, baseline;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--rounds") rounds = std::max(1, std::atoi(value().c_str()));
    else if (a == "--workers") workers = std::max(1, std::atoi(value().c_str()));
    else if (a == "--idle") idle = std::max(0, std::atoi(value().c_str()));
    else if (a == "--haproxy") haproxy = value();
    else if (a == "--only") only = value();
    else if (a == "--case") only_case = value();
    else if (a == "--baseline") baseline = value();
    else if (a.rfind("--", 0) == 0) {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    } else positional.push_back(a);
  }
  if (positional.size() < 2 || (!only.empty() && only != "forward" && only != "latency" && only != "idle")) {
    std::fprintf(stderr,
                 "usage: %s IXNODE IXPROXY [requests] [--rounds N] [--workers N] [--idle N] [--haproxy PATH] "
                 "[--only forward|latency|idle] [--case CxW|submit] [--baseline OLD_IXPROXY]\n",
                 argv[0]);
    return 2;
  }
  if (!std::filesystem::exists(haproxy)) {
    std::fprintf(stderr, "HAProxy not found at %s (scripts/install-deps.sh installs it; --haproxy PATH)\n", haproxy.c_str());
    return 2;
  }
  const std::string ixnode = positional[0], ixproxy = positional[1];
  const int requests = positional.size() > 2 ? std::atoi(positional[2].c_str()) : 200000;
  auto wanted = [&](const char* section) { return only.empty() || only == section; };

  // The idle connections need a descriptor each, here and in the proxy (which inherits this).
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &files);
  if (idle > 0 && files.rlim_cur < static_cast<rlim_t>(idle) + 200) {
    std::fprintf(stderr, "--idle %d needs %d open files; the limit is %lu\n", idle, idle + 200,
                 static_cast<unsigned long>(files.rlim_cur));
    return 2;
  }

  auto dir = std::filesystem::temp_directory_path() / ("ix-proxy-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  uv_loop_t loop;
  uv_loop_init(&loop);
  Ports ports;
  {
    const std::vector<uint16_t> free_ports = test::unused_ports(&loop, 9);
    uint16_t* slots[] = {&ports.node,        &ports.node_admin, &ports.backup,   &ports.backup_admin,  &ports.proxy,
                         &ports.proxy_admin, &ports.haproxy,    &ports.baseline, &ports.baseline_admin};
    for (size_t i = 0; i < 9; ++i) *slots[i] = free_ports[i];
  }
  std::ofstream(dir / "cluster.toml") << cluster_config(ports, workers);
  std::ofstream(dir / "haproxy.cfg") << haproxy_config(ports);
  test::Process node({ixnode, "--config", (dir / "cluster.toml").string(), "--node", "pair-1", "--role", "primary", "--log-level", "warn"},
                     (dir / "node.log").string());
  test::Process proxy({ixproxy, "--config", (dir / "cluster.toml").string(), "--proxy", "proxy", "--log-level", "warn"},
                      (dir / "proxy.log").string());
  test::Process balancer({haproxy, "-db", "-f", (dir / "haproxy.cfg").string()}, (dir / "haproxy.log").string());
  test::Process before({baseline.empty() ? ixproxy : baseline, "--config", (dir / "cluster.toml").string(), "--proxy", "baseline",
                        "--log-level", "warn"},
                       (dir / "baseline.log").string());
  node.start();
  proxy.start();
  balancer.start();
  if (!baseline.empty()) before.start();
  {
    test::TestLoop probe;
    for (uint16_t admin : {ports.proxy_admin, baseline.empty() ? uint16_t{0} : ports.baseline_admin}) {
      for (int attempt = 0; admin && attempt < 400 && test::http_get(probe, admin, "/readyz").status() != 200; ++attempt) {
        probe.run_for(25);
      }
    }
  }

  constexpr size_t kMaxConnections = 8;
  struct Setup {
    const char* name;
    uint16_t port;
    pid_t pid;  // the forwarder's, 0 for direct
    std::vector<std::unique_ptr<bench::Client>> clients;
  };
  std::vector<Setup> setups;
  setups.push_back({"direct", ports.node, 0, {}});
  setups.push_back({"haproxy", ports.haproxy, balancer.pid(), {}});
  setups.push_back({"ixproxy", ports.proxy, proxy.pid(), {}});
  if (!baseline.empty()) setups.push_back({"baseline", ports.baseline, before.pid(), {}});
  const size_t kSetups = setups.size();
  for (Setup& s : setups) {
    for (size_t i = 0; i < kMaxConnections; ++i) s.clients.push_back(std::make_unique<bench::Client>(&loop, s.port));
  }

  proto::RequestSubmitT submit;
  submit.tenant_id = "101";
  submit.media_type = "chat";
  submit.queue = "inbound";
  submit.user_data = wire::kv_list({{"Subject", "benchmark"}, {"CustomerId", "c-1"}, {"Score", 5}});
  auto make_submit = [&](uint64_t ref) { return wire::encode_frame(ref, 0, submit); };
  setups[0].clients[0]->throughput(make_submit, 10, 1);  // an interaction to read back
  proto::RequestGetPropertiesT get;
  get.interaction_id = setups[0].clients[0]->last_id;
  auto make_get = [&](uint64_t ref) { return wire::encode_frame(ref, 0, get); };

  std::printf("proxy_bench: ixproxy with %d worker(s), HAProxy %s (TCP mode, 1 thread), %d cores online\n", workers,
              haproxy.c_str(), static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)));

  if (wanted("forward")) {
    struct Case {
      const char* request;
      std::function<wire::Frame(uint64_t)> make;
      size_t connections;
      int window;
      int requests;
    };
    const std::vector<Case> cases = {
        {"get-properties", make_get, 1, 200, requests},     {"get-properties", make_get, 8, 200, requests},
        {"get-properties", make_get, 1, 16, requests / 2},  {"get-properties", make_get, 8, 16, requests},
        {"submit", make_submit, 1, 200, requests / 10},
    };
    std::printf("\n[forward] %d rounds, interleaved; median per column; window = requests in flight per connection; load %s\n",
                rounds, load_average().c_str());
    std::printf("%-15s %5s %6s | %10s | %10s %6s %7s %5s | %10s %6s %7s %5s | %11s %7s\n", "request", "conns", "window",
                "direct/s", "haproxy/s", "ratio", "us cpu", "core", "ixproxy/s", "ratio", "us cpu", "core", "ix/ha cpu",
                "node us");
    for (const Case& c : cases) {
      const std::string name = c.request == std::string("submit") ? "submit" : std::to_string(c.connections) + "x" + std::to_string(c.window);
      if (!only_case.empty() && only_case != name) continue;
      std::vector<std::vector<double>> rate(kSetups), cpu_per_request(kSetups), core_share(kSetups), node_cpu(kSetups),
          client_cpu(kSetups);
      for (Setup& s : setups) {
        std::vector<bench::Client*> clients;
        for (size_t i = 0; i < c.connections; ++i) clients.push_back(s.clients[i].get());
        bench::Client::throughput(clients, c.make, c.requests / 10, c.window);  // warm up
      }
      for (int round = 0; round < rounds; ++round) {
        for (size_t i = 0; i < kSetups; ++i) {
          Setup& s = setups[i];
          std::vector<bench::Client*> clients;
          for (size_t k = 0; k < c.connections; ++k) clients.push_back(s.clients[k].get());
          const double cpu0 = s.pid ? cpu_seconds(s.pid) : 0, node0 = cpu_seconds(node.pid()), client0 = cpu_seconds(::getpid());
          const uint64_t t0 = uv_hrtime();
          const double r = bench::Client::throughput(clients, c.make, c.requests, c.window);
          const double wall = static_cast<double>(uv_hrtime() - t0) / 1e9;
          const double cpu = s.pid ? cpu_seconds(s.pid) - cpu0 : 0, node_used = cpu_seconds(node.pid()) - node0;
          const double client_used = cpu_seconds(::getpid()) - client0;
          const double done = r * wall;
          rate[i].push_back(r);
          cpu_per_request[i].push_back(cpu / done * 1e6);
          core_share[i].push_back(cpu / wall);
          node_cpu[i].push_back(node_used / done * 1e6);
          client_cpu[i].push_back(client_used / done * 1e6);
        }
      }
      const double direct = median(rate[0]);
      const double ha_cpu = median(cpu_per_request[1]), ix_cpu = median(cpu_per_request[2]);
      std::printf("%-15s %5zu %6d | %10.0f | %10.0f %6.2f %7.2f %5.2f | %10.0f %6.2f %7.2f %5.2f | %10.2fx %7.2f\n", c.request,
                  c.connections, c.window, direct, median(rate[1]), median(rate[1]) / direct, ha_cpu, median(core_share[1]),
                  median(rate[2]), median(rate[2]) / direct, ix_cpu, median(core_share[2]), ha_cpu > 0 ? ix_cpu / ha_cpu : 0,
                  median(node_cpu[2]));
      if (kSetups > 3) {
        std::printf("%-28s | %10s | %10.0f %6.2f %7.2f %5.2f | %10s %6.2f\n", "  baseline (before)", "",
                    median(rate[3]), median(rate[3]) / direct, median(cpu_per_request[3]), median(core_share[3]), "ix/base",
                    median(rate[2]) / median(rate[3]));
      }
      std::printf("%-28s |", "  node us / client us");
      for (size_t i = 0; i < kSetups; ++i) std::printf(" %s %.2f / %.2f;", setups[i].name, median(node_cpu[i]), median(client_cpu[i]));
      std::printf("\n");
      std::fflush(stdout);
    }
    std::printf("(us cpu: the forwarder's CPU time per request; core: its CPU time / wall time; node us: the node's CPU per\n"
                " request in the ixproxy runs (and below, per setup, beside the benchmark client's own); /proc counts in\n"
                " clock ticks of %ld ms)\n", 1000 / ::sysconf(_SC_CLK_TCK));
  }

  if (wanted("latency")) {
    std::printf("\n[latency] get-properties on one connection at a fixed rate, median of %d rounds; load %s\n", rounds,
                load_average().c_str());
    for (int rate : {2000, 20000}) {
      std::vector<double> p50[3], p99[3];
      for (int round = 0; round < rounds; ++round) {
        for (int i = 0; i < 3; ++i) {
          const std::vector<double> lat = setups[i].clients[0]->latencies(make_get, rate, rate);  // one second each
          p50[i].push_back(percentile(lat, 0.50));
          p99[i].push_back(percentile(lat, 0.99));
        }
      }
      for (int i = 0; i < 3; ++i) {
        std::printf("  %6d/s %-8s p50 %7.1f us  p99 %8.1f us   added p50 %+7.1f us  p99 %+8.1f us\n", rate, setups[i].name,
                    median(p50[i]), median(p99[i]), median(p50[i]) - median(p50[0]), median(p99[i]) - median(p99[0]));
      }
    }
  }

  if (wanted("idle") && idle > 0) {
    std::printf("\n[idle] %d registered idle connections on ixproxy; load %s\n", idle, load_average().c_str());
    auto one_more_latency = [&] {
      bench::Client extra(&loop, ports.proxy);
      const std::vector<double> lat = extra.latencies(make_get, 2000, 2000);
      return std::pair{percentile(lat, 0.5), percentile(lat, 0.99)};
    };
    const auto [before50, before99] = one_more_latency();
    const double rss_before = rss_bytes(proxy.pid());
    std::vector<std::unique_ptr<IdleClient>> clients;
    clients.reserve(static_cast<size_t>(idle));
    size_t registered = 0;
    const uint64_t t0 = uv_hrtime();
    sockaddr_in address{};
    uv_ip4_addr("127.0.0.1", ports.proxy, &address);
    net::ConnectionOptions options;
    options.connect_timeout_ms = 30000;
    constexpr size_t kOpening = 256;  // connections registering at once (the listen backlog is finite)
    while (registered < static_cast<size_t>(idle)) {
      while (clients.size() < static_cast<size_t>(idle) && clients.size() - registered < kOpening) {
        auto c = std::make_unique<IdleClient>();
        IdleClient* raw = c.get();
        c->connection = net::Connection::connect(&loop, reinterpret_cast<const sockaddr*>(&address), options, nullptr);
        c->connection->set_on_data([raw, &registered](std::span<const uint8_t> d) {
          raw->decoder.feed(d, [raw, &registered](std::span<const uint8_t> payload) {
            auto e = wire::verify_envelope(payload);
            if (e.ok() && (*e)->body_type() == proto::Message::EventClientRegistered && !raw->registered) {
              raw->registered = true;
              ++registered;
            }
          });
        });
        c->connection->set_on_close([idle](const std::string& reason) {
          std::fprintf(stderr, "an idle connection closed: %s (at %d connections)\n", reason.c_str(), idle);
          std::exit(1);
        });
        c->connection->write(wire::encode_register_client(0, proto::ClientType::AgentApplication, "idle", {}));
        clients.push_back(std::move(c));
      }
      uv_run(&loop, UV_RUN_ONCE);
    }
    const double seconds = static_cast<double>(uv_hrtime() - t0) / 1e9;
    // Let the proxy settle (its allocator keeps what it touched) before reading its RSS.
    for (int i = 0; i < 20; ++i) uv_run(&loop, UV_RUN_NOWAIT);
    const double rss_after = rss_bytes(proxy.pid());
    const auto [after50, after99] = one_more_latency();
    std::printf("  registration: %.2f s for %d connections (%.0f/s, %d at a time)\n", seconds, idle, idle / seconds,
                static_cast<int>(kOpening));
    std::printf("  proxy RSS: %.1f MB before, %.1f MB after: %.2f kB per connection\n", rss_before / 1e6, rss_after / 1e6,
                (rss_after - rss_before) / idle / 1024);
    std::printf("  one more connection, get-properties at 2,000/s: p50 %.1f us p99 %.1f us (without the idle ones: %.1f / %.1f us)\n",
                after50, after99, before50, before99);
    for (auto& c : clients) {
      c->connection->clear_callbacks();
      c->connection->abort("done");
    }
    uv_run(&loop, UV_RUN_NOWAIT);
  }

  for (Setup& s : setups) s.clients.clear();
  balancer.kill(SIGTERM);
  proxy.kill(SIGTERM);
  node.kill(SIGTERM);
  uv_run(&loop, UV_RUN_NOWAIT);
  std::filesystem::remove_all(dir);
  return 0;
}
