// The cost of ixproxy, side by side in one run on one machine (real processes on loopback):
//   (a) clients talking straight to one node (pair-1's primary);
//   (b) the same clients through a proxy whose cluster is that one pair;
//   (c) through a proxy in front of two pairs.
// For submit and for get-properties it reports throughput with `window` requests in flight on
// one connection, the ratio (b)/(a), and latency (p50, p99) at a fixed request rate, with the
// latency the proxy adds over (a).
//
//   proxy_bench IXNODE IXPROXY [requests=20000] [window=200] [rate=2000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "perf/bench_client.h"
#include "protocol/wire/kv.h"
#include "tests/support/http_exchange.h"
#include "tests/support/process.h"

namespace {

using namespace ix;

struct Ports {
  uint16_t node[2][2];  // [pair][port, admin]
  uint16_t backup[2][2];
  uint16_t proxy[2][2];  // [one-pair proxy, two-pair proxy][port, admin]
};

std::string config(const Ports& p, int pairs, int proxy) {
  auto endpoint = [](const char* section, const uint16_t e[2]) {
    return std::string("[") + section + "]\nhost = \"127.0.0.1\"\nport = " + std::to_string(e[0]) +
           "\nadmin-port = " + std::to_string(e[1]) + "\n";
  };
  std::string text = "[[tenants]]\nid = \"101\"\n[[media-types]]\nname = \"chat\"\n";
  for (int i = 0; i < pairs; ++i) {
    const std::string id = "pair-" + std::to_string(i + 1);
    text += "[[node-pairs]]\nid = \"" + id + "\"\ntag = \"b" + std::to_string(i + 1) + "\"\ntenants = [\"101\"]\n" +
            endpoint("node-pairs.primary", p.node[i]) + endpoint("node-pairs.backup", p.backup[i]) +
            "[node-pairs.storage]\nsqlite-path = \"" + id + ".db\"\n";
  }
  text += "[[proxy-clusters]]\nid = \"bench\"\n[[proxies]]\nid = \"proxy\"\ncluster = \"bench\"\nhost = \"127.0.0.1\"\nport = " +
          std::to_string(p.proxy[proxy][0]) + "\nadmin-port = " + std::to_string(p.proxy[proxy][1]) +
          "\n[[queues]]\nid = \"inbound\"\ntenant = \"101\"\n";
  return text;
}

double percentile(const std::vector<double>& sorted, double p) {
  return sorted.empty() ? 0 : sorted[std::min(sorted.size() - 1, static_cast<size_t>(p * static_cast<double>(sorted.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s IXNODE IXPROXY [requests] [window] [rate]\n", argv[0]);
    return 2;
  }
  const std::string ixnode = argv[1], ixproxy = argv[2];
  const int requests = argc > 3 ? std::atoi(argv[3]) : 20000;
  const int window = argc > 4 ? std::atoi(argv[4]) : 200;
  const int rate = argc > 5 ? std::atoi(argv[5]) : 2000;

  auto dir = std::filesystem::temp_directory_path() / ("ix-proxy-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  uv_loop_t loop;
  uv_loop_init(&loop);
  Ports ports{};
  const std::vector<uint16_t> free_ports = test::unused_ports(&loop, 12);
  size_t next = 0;
  for (auto* group : {&ports.node, &ports.backup, &ports.proxy}) {
    for (auto& e : *group) {
      for (uint16_t& p : e) p = free_ports[next++];
    }
  }
  std::ofstream(dir / "one-pair.toml") << config(ports, 1, 0);
  std::ofstream(dir / "two-pairs.toml") << config(ports, 2, 1);
  std::vector<std::unique_ptr<test::Process>> processes;
  auto start = [&](std::vector<std::string> argv_, const std::string& log) {
    processes.push_back(std::make_unique<test::Process>(std::move(argv_), (dir / log).string()));
    processes.back()->start();
  };
  for (int pair = 0; pair < 2; ++pair) {
    start({ixnode, "--config", (dir / "two-pairs.toml").string(), "--node", "pair-" + std::to_string(pair + 1), "--role",
           "primary", "--log-level", "warn"},
          "node-" + std::to_string(pair + 1) + ".log");
  }
  start({ixproxy, "--config", (dir / "one-pair.toml").string(), "--proxy", "proxy", "--log-level", "warn"}, "proxy-1.log");
  start({ixproxy, "--config", (dir / "two-pairs.toml").string(), "--proxy", "proxy", "--log-level", "warn"}, "proxy-2.log");

  // Measure only once both proxies have their links up.
  {
    test::TestLoop probe;
    for (int proxy = 0; proxy < 2; ++proxy) {
      for (int attempt = 0; attempt < 400 && test::http_get(probe, ports.proxy[proxy][1], "/readyz").status() != 200; ++attempt) {
        probe.run_for(25);
      }
    }
  }
  bench::Client direct(&loop, ports.node[0][0]);
  bench::Client one_pair(&loop, ports.proxy[0][0]);
  bench::Client two_pairs(&loop, ports.proxy[1][0]);
  struct Setup {
    const char* name;
    bench::Client* client;
  } setups[] = {{"(a) direct to the node", &direct}, {"(b) proxy -> that node", &one_pair}, {"(c) proxy -> two pairs", &two_pairs}};

  proto::RequestSubmitT submit;
  submit.tenant_id = "101";
  submit.media_type = "chat";
  submit.queue = "inbound";
  submit.user_data = wire::kv_list({{"Subject", "benchmark"}, {"CustomerId", "c-1"}, {"Score", 5}});
  auto make_submit = [&](uint64_t ref) { return wire::encode_frame(ref, 0, submit); };
  direct.throughput(make_submit, 10, 1);  // an interaction to read back (pair-1's, tag b1)
  proto::RequestGetPropertiesT get;
  get.interaction_id = direct.last_id;
  auto make_get = [&](uint64_t ref) { return wire::encode_frame(ref, 0, get); };

  // Each setup is measured `kRounds` times, interleaved, and the median reported: the VM's noise
  // (other processes, fsync outliers) moves single runs by tens of percent.
  constexpr int kRounds = 3;
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf("proxy cost, %d requests, window %d, fixed rate %d/s, median of %d rounds\n", requests, window, rate, kRounds);
  for (auto [what, make] : {std::pair{"submit", std::function<wire::Frame(uint64_t)>(make_submit)},
                            std::pair{"get-properties", std::function<wire::Frame(uint64_t)>(make_get)}}) {
    std::printf("\n%s\n", what);
    std::vector<double> rates[3], p50s[3], p99s[3];
    for (const Setup& s : setups) s.client->throughput(make, requests / 10, window);  // warm up
    for (int round = 0; round < kRounds; ++round) {
      for (int i = 0; i < 3; ++i) {
        rates[i].push_back(setups[i].client->throughput(make, requests, window));
        const std::vector<double> lat = setups[i].client->latencies(make, std::min(requests, rate * 2), rate);
        p50s[i].push_back(percentile(lat, 0.50));
        p99s[i].push_back(percentile(lat, 0.99));
      }
    }
    for (int i = 0; i < 3; ++i) {
      const double r = median(rates[i]), p50 = median(p50s[i]), p99 = median(p99s[i]);
      std::printf("  %-24s %9.0f req/s  ratio %.2f   p50 %7.1f us  p99 %8.1f us   added p50 %+7.1f us  p99 %+8.1f us\n",
                  setups[i].name, r, r / median(rates[0]), p50, p99, p50 - median(p50s[0]), p99 - median(p99s[0]));
    }
  }
  processes.clear();
  uv_run(&loop, UV_RUN_NOWAIT);
  std::filesystem::remove_all(dir);
  return 0;
}
