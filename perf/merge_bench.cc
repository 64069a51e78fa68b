// The cost of the proxy's merges, side by side in one run (real processes on loopback):
//   - reporting: the events of 4 pairs' logs, replayed from seq 0, through the proxy's merge to
//     1 and to 10 reporting clients, versus one node's log straight to one client;
//   - find: the 1,000 highest-priority interactions out of N, spread over 4 pairs and asked
//     through the proxy (a k-way merge of 4 sorted answers), versus all N on one node, direct;
//   - snapshot: all N taken in priority order and paged through 1,000 at a time, over 4 pairs
//     through the proxy (one snapshot per pair, pages merged in order) versus one node, direct.
//
// The reporting section runs `--rounds` interleaved rounds (direct, then through the proxy) and
// prints each round and the medians: events/s, the ratio to direct, and the CPU the proxy and the
// nodes spent per delivered event (utime + stime from /proc). `--only reporting|find|snapshot`
// runs one section.
//
//   merge_bench IXNODE IXPROXY [interactions=100000] [--rounds 1] [--only reporting|find|snapshot]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "perf/bench_client.h"
#include "perf/proc_stats.h"
#include "protocol/wire/kv.h"
#include "tests/support/http_exchange.h"
#include "tests/support/process.h"

namespace {

using namespace ix;

constexpr int kPairs = 4;

// Pairs 1..4 and the proxy (cluster.toml), or the one-node baseline (single.toml).
std::string config(const std::vector<uint16_t>& ports, int pairs, bool proxy) {
  auto endpoint = [&](const char* section, size_t at) {
    return std::string("[") + section + "]\nhost = \"127.0.0.1\"\nport = " + std::to_string(ports[at]) +
           "\nadmin-port = " + std::to_string(ports[at + 1]) + "\n";
  };
  std::string text = "[[tenants]]\nid = \"101\"\n[[media-types]]\nname = \"chat\"\n";
  for (int i = 0; i < pairs; ++i) {
    const std::string id = "pair-" + std::to_string(i + 1);
    text += "[[node-pairs]]\nid = \"" + id + "\"\ntag = \"b" + std::to_string(i + 1) + "\"\ntenants = [\"101\"]\n" +
            endpoint("node-pairs.primary", 4 * i) + endpoint("node-pairs.backup", 4 * i + 2) +
            "[node-pairs.storage]\nsqlite-path = \"" + id + ".db\"\n[node-pairs.settings]\nmax-interactions-per-snapshot = 100000\n";
  }
  if (proxy) {
    text += "[[proxy-clusters]]\nid = \"bench\"\n[[proxies]]\nid = \"proxy\"\ncluster = \"bench\"\nhost = \"127.0.0.1\"\nport = " +
            std::to_string(ports[4 * kPairs]) + "\nadmin-port = " + std::to_string(ports[4 * kPairs + 1]) +
            "\n[proxies.settings]\nreporting-buffer = 10000000\n";
  }
  // The proxy authenticates to the nodes with a secret (main sets the variable).
  return text + "[[queues]]\nid = \"inbound\"\ntenant = \"101\"\n[proxy-auth]\nsecret-env = \"IX_BENCH_PROXY_SECRET\"\n";
}

wire::Frame start_reporting_from_zero(const std::vector<std::string>& nodes) {
  proto::RequestStartReportingT start;
  for (const std::string& node : nodes) {
    auto position = std::make_unique<proto::ResumePositionT>();
    position->node_id = node;
    position->seq = 0;
    start.resume.push_back(std::move(position));
  }
  return wire::encode_frame(1, 0, start);
}

double seconds_since(uint64_t start_ns) { return static_cast<double>(uv_hrtime() - start_ns) / 1e9; }

}  // namespace

int main(int argc, char** argv) {
  auto usage = [&] {
    std::fprintf(stderr, "usage: %s IXNODE IXPROXY [interactions] [--rounds N] [--only reporting|find|snapshot]\n", argv[0]);
    return 2;
  };
  if (argc < 3) return usage();
  const std::string ixnode = argv[1], ixproxy = argv[2];
  ::setenv("IX_BENCH_PROXY_SECRET", "merge-bench-secret-0123456789", 0);
  int interactions = 100'000, rounds = 1;
  std::string only;
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (arg == "--only" && i + 1 < argc) {
      only = argv[++i];
      if (only != "reporting" && only != "find" && only != "snapshot") return usage();
    } else if (!arg.empty() && arg[0] != '-') {
      interactions = std::atoi(arg.c_str());
    } else {
      return usage();
    }
  }
  if (interactions <= 0 || rounds <= 0) return usage();
  auto section = [&](const char* name) { return only.empty() || only == name; };
  auto dir = std::filesystem::temp_directory_path() / ("ix-merge-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "single");
  uv_loop_t loop;
  uv_loop_init(&loop);
  const std::vector<uint16_t> ports = test::unused_ports(&loop, 4 * kPairs + 2 + 4);
  std::ofstream(dir / "cluster.toml") << config(ports, kPairs, true);
  const std::vector<uint16_t> single_ports(ports.begin() + 4 * kPairs + 2, ports.end());
  std::ofstream(dir / "single" / "cluster.toml") << config(single_ports, 1, false);

  std::vector<std::unique_ptr<test::Process>> processes;
  auto start = [&](std::vector<std::string> args, const std::filesystem::path& log) {
    processes.push_back(std::make_unique<test::Process>(std::move(args), log.string()));
    processes.back()->start();
  };
  std::vector<std::string> nodes;
  for (int i = 0; i < kPairs; ++i) {
    nodes.push_back("pair-" + std::to_string(i + 1));
    start({ixnode, "--config", (dir / "cluster.toml").string(), "--node", nodes.back(), "--log-level", "warn"},
          dir / (nodes.back() + ".log"));
  }
  start({ixnode, "--config", (dir / "single" / "cluster.toml").string(), "--node", "pair-1", "--log-level", "warn"},
        dir / "single" / "node.log");
  start({ixproxy, "--config", (dir / "cluster.toml").string(), "--proxy", "proxy", "--log-level", "warn"}, dir / "proxy.log");
  {
    test::TestLoop probe;
    for (int attempt = 0; attempt < 400 && test::http_get(probe, ports[4 * kPairs + 1], "/readyz").status() != 200; ++attempt) {
      probe.run_for(25);
    }
  }

  // The same interactions (random priorities) on the one node and, a quarter each, on the pairs.
  std::mt19937 random(42);
  proto::RequestSubmitT submit;
  submit.tenant_id = "101";
  submit.media_type = "chat";
  submit.queue = "inbound";
  submit.user_data = wire::kv_list({{"Subject", "benchmark"}, {"CustomerId", "c-1"}});
  std::vector<int> priorities(static_cast<size_t>(interactions));
  for (int& p : priorities) p = static_cast<int>(random() % 100);
  auto preload = [&](uint16_t port, size_t from, size_t to) {
    bench::Client c(&loop, port);
    size_t next = from;
    c.throughput([&](uint64_t ref) {
      submit.priority = priorities[next++ % priorities.size()];
      return wire::encode_frame(ref, 0, submit);
    }, static_cast<int>(to - from), 500);
  };
  preload(single_ports[0], 0, priorities.size());
  for (int i = 0; i < kPairs; ++i) preload(ports[4 * i], priorities.size() * i / kPairs, priorities.size() * (i + 1) / kPairs);
  const uint64_t events = 2ull * interactions;  // submitted + placed in queue

  std::printf("proxy merges, %d interactions (%llu reporting events) — one node vs 4 pairs through the proxy\n", interactions,
              static_cast<unsigned long long>(events));
  const size_t proxy_process = processes.size() - 1, single_process = processes.size() - 2;
  auto node_cpu = [&](bool pairs) {
    double sum = 0;
    if (!pairs) return bench::cpu_seconds(processes[single_process]->pid());
    for (int i = 0; i < kPairs; ++i) sum += bench::cpu_seconds(processes[static_cast<size_t>(i)]->pid());
    return sum;
  };
  if (section("reporting")) {
    std::printf("\nreporting, replayed from seq 0 (events/s received by all clients together), %d round(s), load %s\n", rounds,
                bench::load_average().c_str());
    std::printf("  %-5s %-38s %12s %7s %16s %16s\n", "round", "", "events/s", "ratio", "proxy us/event", "nodes us/event");
    // Per case: rate, proxy CPU per event, nodes' CPU per event, over the rounds.
    std::vector<double> rate[3], proxy_us[3], nodes_us[3];
    const char* names[3] = {"one node -> 1 client, direct", "4 pairs -> proxy merge -> 1 client", "4 pairs -> proxy merge -> 10 clients"};
    for (int round = 1; round <= rounds; ++round) {
      for (int c = 0; c < 3; ++c) {
        const int clients = c == 2 ? 10 : 1;
        const bool direct = c == 0;
        std::vector<std::unique_ptr<bench::Client>> readers;
        for (int i = 0; i < clients; ++i) {
          readers.push_back(std::make_unique<bench::Client>(&loop, direct ? single_ports[0] : ports[4 * kPairs],
                                                            proto::ClientType::ReportingEngine));
        }
        const double proxy0 = bench::cpu_seconds(processes[proxy_process]->pid()), nodes0 = node_cpu(!direct);
        const uint64_t t = uv_hrtime();
        for (auto& r : readers) r->send(start_reporting_from_zero(direct ? std::vector<std::string>{"pair-1"} : nodes));
        readers.back()->run_until([&] {
          return std::all_of(readers.begin(), readers.end(), [&](const auto& r) { return r->reporting_events >= events; });
        });
        const double delivered = static_cast<double>(events) * clients;
        rate[c].push_back(delivered / seconds_since(t));
        proxy_us[c].push_back(direct ? 0 : (bench::cpu_seconds(processes[proxy_process]->pid()) - proxy0) / delivered * 1e6);
        nodes_us[c].push_back((node_cpu(!direct) - nodes0) / delivered * 1e6);
        std::printf("  %-5d %-38s %12.0f %7.2f %16.2f %16.2f\n", round, names[c], rate[c].back(), rate[c].back() / rate[0].back(),
                    proxy_us[c].back(), nodes_us[c].back());
      }
    }
    const double direct_rate = bench::median(rate[0]);
    std::printf("  median:\n");
    for (int c = 0; c < 3; ++c) {
      std::printf("  %-5s %-38s %12.0f %7.2f %16.2f %16.2f\n", "", names[c], bench::median(rate[c]),
                  bench::median(rate[c]) / direct_rate, bench::median(proxy_us[c]), bench::median(nodes_us[c]));
    }
    std::printf("  (ratio: to direct in the same round; us/event: CPU time per delivered event, /proc ticks of %ld ms)\n",
                1000 / ::sysconf(_SC_CLK_TCK));
  }

  if (section("find")) {
    std::printf("\nfind: the 1,000 highest priorities (order \"priority desc\"), one request at a time\n");
    proto::RequestFindT find;
    find.tenant_id = "101";
    find.order = "priority desc";
    find.limit = 1000;
    auto make_find = [&](uint64_t ref) { return wire::encode_frame(ref, 0, find); };
    double one_node = 0;
    for (auto [name, port] : {std::pair{"one node, direct", single_ports[0]}, std::pair{"4 pairs through the proxy", ports[4 * kPairs]}}) {
      bench::Client c(&loop, port, proto::ClientType::AgentApplication);
      c.throughput(make_find, 5, 1);  // warm up
      const double rate = c.throughput(make_find, 100, 1);
      if (one_node == 0) one_node = rate;
      std::printf("  %-40s %10.1f finds/s   %6.2f ms each   ratio %.2f\n", name, rate, 1000 / rate, rate / one_node);
    }
  }

  if (section("snapshot")) {
    std::printf("\nsnapshot: take all (order \"priority desc\"), page through them 1,000 at a time, release\n");
    double one_node_snapshot = 0;
    for (auto [name, port] : {std::pair{"one node, direct", single_ports[0]}, std::pair{"4 pairs through the proxy", ports[4 * kPairs]}}) {
      bench::Client c(&loop, port, proto::ClientType::RoutingEngine);
      auto once = [&](const auto& message) { c.throughput([&](uint64_t ref) { return wire::encode_frame(ref, 0, message); }, 1, 1); };
      proto::RequestTakeSnapshotT take;
      take.tenant_id = "101";
      take.condition = "priority >= 0";
      take.order = "priority desc";
      take.max = static_cast<uint32_t>(interactions);
      const uint64_t t = uv_hrtime();
      once(take);
      proto::RequestSnapshotPageT page;
      page.snapshot_id = c.last_id;
      page.count = 1000;
      size_t seen = 0;
      for (;; page.start += page.count) {
        once(page);
        seen += c.last_page_size;
        if (c.last_page_size < page.count) break;
      }
      proto::RequestReleaseSnapshotT release;
      release.snapshot_id = page.snapshot_id;
      once(release);
      const double s = seconds_since(t);
      if (one_node_snapshot == 0) one_node_snapshot = s;
      std::printf("  %-40s %8.0f ms for %zu interactions   %9.0f interactions/s   ratio %.2f\n", name, s * 1000, seen,
                  static_cast<double>(seen) / s, one_node_snapshot / s);
    }
  }
  processes.clear();
  uv_run(&loop, UV_RUN_NOWAIT);
  std::filesystem::remove_all(dir);
  return 0;
}
