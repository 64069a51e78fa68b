// Does a stalled engagement service slow the proxy's routing? Side by side in one run (real
// processes on loopback): one node pair's primary, and two proxies in front of it —
//   (a) without [pacing];
//   (b) with [pacing] and 100 pacing targets whose engagement service accepts TCP connections and
//       never answers (every post, token first, runs into http-timeout, each refresh period).
// Proxy (b) holds the master lease (it is the only pacing proxy), so it really posts. For submit
// and get-properties it reports throughput with `window` requests in flight, interleaved rounds,
// medians, and the ratio (b)/(a); then how many posts (b) saw fail.
//
//   pacing_stall_bench IXNODE IXPROXY [requests=20000] [window=200]
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "perf/bench_client.h"
#include "protocol/wire/kv.h"
#include "tests/support/http_exchange.h"
#include "tests/support/process.h"

namespace {

using namespace ix;

// A TCP listener that never accepts: connections complete in the kernel's backlog and whatever
// the client sends is never read or answered — a stalled service.
int stalled_listener(uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 1024) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return -1;
  }
  port = ntohs(address.sin_port);
  return fd;
}

std::string config(uint16_t node, uint16_t node_admin, uint16_t proxy, uint16_t proxy_admin, uint16_t stalled, bool pacing) {
  std::string text = "[[tenants]]\nid = \"101\"\n[[media-types]]\nname = \"chat\"\n"
                     "[[node-pairs]]\nid = \"pair-1\"\ntag = \"b1\"\ntenants = [\"101\"]\n"
                     "[node-pairs.primary]\nhost = \"127.0.0.1\"\nport = " + std::to_string(node) +
                     "\nadmin-port = " + std::to_string(node_admin) +
                     "\n[node-pairs.backup]\nhost = \"127.0.0.1\"\nport = 1\nadmin-port = 2\n"
                     "[node-pairs.storage]\nsqlite-path = \"pair-1.db\"\n"
                     "[[proxy-clusters]]\nid = \"bench\"\n[[proxies]]\nid = \"proxy\"\ncluster = \"bench\"\nhost = \"127.0.0.1\"\nport = " +
                     std::to_string(proxy) + "\nadmin-port = " + std::to_string(proxy_admin) +
                     "\n[[queues]]\nid = \"inbound\"\ntenant = \"101\"\n"
                     // The proxy authenticates to the node with a secret (main sets the variable).
                     "[proxy-auth]\nsecret-env = \"IX_BENCH_PROXY_SECRET\"\n";
  if (!pacing) return text;
  for (int i = 0; i < 100; ++i) {
    const std::string vq = "VQ " + std::to_string(i);
    text += "[[virtual-queues]]\nid = \"" + vq + "\"\ntenant = \"101\"\n[virtual-queues.pacing]\nmedia = \"chat\"\n" +
            "[[agent-groups]]\nid = \"G " + std::to_string(i) + "\"\ntenant = \"101\"\norigination-dns = [\"" + vq + "\"]\n";
  }
  const std::string base = "https://127.0.0.1:" + std::to_string(stalled);
  return text + "[pacing]\ntenant = \"101\"\nrefresh-period = \"1s\"\nhttp-timeout = \"900ms\"\nlease-ttl = \"3s\"\n"
                "credentials-env = \"IX_BENCH_ENGAGEMENT\"\nauth-url = \"" + base + "/oauth/token\"\n"
                "[pacing.endpoint]\nbase-urls = [\"" + base + "/api/\"]\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s IXNODE IXPROXY [requests] [window]\n", argv[0]);
    return 2;
  }
  const std::string ixnode = argv[1], ixproxy = argv[2];
  ::setenv("IX_BENCH_PROXY_SECRET", "pacing-bench-secret-0123456789", 0);
  const int requests = argc > 3 ? std::atoi(argv[3]) : 20000;
  const int window = argc > 4 ? std::atoi(argv[4]) : 200;
  ::setenv("IX_BENCH_ENGAGEMENT", "bench:secret", 1);

  auto dir = std::filesystem::temp_directory_path() / ("ix-pacing-stall-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  uv_loop_t loop;
  uv_loop_init(&loop);
  uint16_t stalled = 0;
  if (stalled_listener(stalled) < 0) {
    std::perror("stalled listener");
    return 1;
  }
  const std::vector<uint16_t> p = test::unused_ports(&loop, 6);
  std::ofstream(dir / "off.toml") << config(p[0], p[1], p[2], p[3], stalled, false);
  std::ofstream(dir / "stalled.toml") << config(p[0], p[1], p[4], p[5], stalled, true);
  std::vector<std::unique_ptr<test::Process>> processes;
  auto start = [&](std::vector<std::string> argv_, const std::string& log) {
    processes.push_back(std::make_unique<test::Process>(std::move(argv_), (dir / log).string()));
    processes.back()->start();
  };
  start({ixnode, "--config", (dir / "stalled.toml").string(), "--node", "pair-1", "--role", "primary", "--log-level", "warn"},
        "node.log");
  start({ixproxy, "--config", (dir / "off.toml").string(), "--proxy", "proxy", "--log-level", "warn"}, "proxy-off.log");
  start({ixproxy, "--config", (dir / "stalled.toml").string(), "--proxy", "proxy", "--log-level", "warn"}, "proxy-stalled.log");

  test::TestLoop probe;
  for (uint16_t admin : {p[3], p[5]}) {
    for (int attempt = 0; attempt < 400 && test::http_get(probe, admin, "/readyz").status() != 200; ++attempt) probe.run_for(25);
  }
  auto pacing_status = [&] {
    const nlohmann::json s = nlohmann::json::parse(test::http_get(probe, p[5], "/status").body(), nullptr, false);
    return s.is_object() ? s.value("pacing", nlohmann::json::object()) : nlohmann::json::object();
  };
  auto is_master = [&] { return pacing_status().value("master", nlohmann::json::object()).value("is_master", false); };
  // Measure only once (b) is master and its posts are stalling.
  for (int attempt = 0; attempt < 200 && !is_master(); ++attempt) probe.run_for(50);
  if (!is_master()) {
    std::fprintf(stderr, "proxy (b) never became pacing master: %s\n", pacing_status().dump().c_str());
    return 1;
  }

  bench::Client off(&loop, p[2]);
  bench::Client stalling(&loop, p[4]);
  proto::RequestSubmitT submit;
  submit.tenant_id = "101";
  submit.media_type = "chat";
  submit.queue = "inbound";
  submit.user_data = wire::kv_list({{"Subject", "benchmark"}, {"CustomerId", "c-1"}});
  auto make_submit = [&](uint64_t ref) { return wire::encode_frame(ref, 0, submit); };
  off.throughput(make_submit, 10, 1);
  proto::RequestGetPropertiesT get;
  get.interaction_id = off.last_id;
  auto make_get = [&](uint64_t ref) { return wire::encode_frame(ref, 0, get); };

  constexpr int kRounds = 3;
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf("proxy routing with the engagement service stalled, %d requests, window %d, median of %d rounds\n", requests,
              window, kRounds);
  for (auto [what, make] : {std::pair{"submit", std::function<wire::Frame(uint64_t)>(make_submit)},
                            std::pair{"get-properties", std::function<wire::Frame(uint64_t)>(make_get)}}) {
    std::vector<double> a, b;
    off.throughput(make, requests / 10, window);
    stalling.throughput(make, requests / 10, window);
    for (int round = 0; round < kRounds; ++round) {
      a.push_back(off.throughput(make, requests, window));
      b.push_back(stalling.throughput(make, requests, window));
    }
    std::printf("  %-15s (a) pacing off %9.0f req/s   (b) endpoint stalled %9.0f req/s   ratio (b)/(a) %.2f\n", what,
                median(a), median(b), median(b) / median(a));
  }
  // What (b)'s posts came to, from its log.
  std::ifstream log(dir / "proxy-stalled.log");
  int failed = 0;
  for (std::string line; std::getline(log, line);) {
    failed += line.find("event=pacing_post_failed") != std::string::npos;
  }
  std::printf("  (b) posts failed (stalled) during the run: %d\n", failed);
  processes.clear();
  uv_run(&loop, UV_RUN_NOWAIT);
  if (!std::getenv("IX_BENCH_KEEP")) std::filesystem::remove_all(dir);
  return 0;
}
