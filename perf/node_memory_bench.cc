// Memory per live interaction of a real ixnode (SQLite, one client keeping 500 submits in flight):
//   1. RSS after start-up and a warm-up of 1,000 submits (stopped again);
//   2. RSS after N more submits (each a queued interaction with three properties, as in
//      node_submit_bench): (RSS - RSS before) / N is the memory one live interaction costs;
//   3. RSS after stopping all N (and a second's pause for the allocator to purge), then after
//      N submits again: stopped interactions leave the node's memory if the second fill does
//      not raise RSS above the first.
// The node runs with max-live-interactions above N. Prints the machine's load average.
//
//   node_memory_bench IXNODE [interactions=200000]
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "perf/bench_client.h"
#include "perf/proc_stats.h"
#include "protocol/wire/interaction_id.h"
#include "protocol/wire/kv.h"
#include "tests/support/process.h"

namespace {

using namespace ix;

double mb(double bytes) { return bytes / 1e6; }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s IXNODE [interactions=200000]\n", argv[0]);
    return 2;
  }
  const std::string ixnode = argv[1];
  const int n = argc > 2 ? std::atoi(argv[2]) : 200'000;
  if (n <= 0) {
    std::fprintf(stderr, "interactions must be positive\n");
    return 2;
  }
  auto dir = std::filesystem::temp_directory_path() / ("ix-memory-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  uv_loop_t loop;
  uv_loop_init(&loop);
  const std::vector<uint16_t> ports = test::unused_ports(&loop, 4);
  std::ofstream(dir / "cluster.toml") << bench::one_pair_config(ports, 2 * n + 10'000);
  test::Process node({ixnode, "--config", (dir / "cluster.toml").string(), "--node", "bench", "--role", "primary", "--log-level", "warn"},
                     (dir / "ixnode.log").string());
  node.start();

  bench::Client client(&loop, ports[0]);
  proto::RequestSubmitT submit;
  submit.tenant_id = "101";
  submit.media_type = "chat";
  submit.queue = "inbound";
  submit.user_data = wire::kv_list({{"Subject", "benchmark"}, {"CustomerId", "c-1"}, {"Score", 5}});
  auto make_submit = [&](uint64_t ref) { return wire::encode_frame(ref, 0, submit); };
  uint64_t next_stop = 1;  // cluster-generated IDs count up from 1: b1-<counter>
  auto make_stop = [&](uint64_t ref) {
    proto::RequestStopProcessingT stop;
    stop.interaction_id = wire::make_cluster_id("b1", next_stop++);
    return wire::encode_frame(ref, 0, stop);
  };
  auto settle = [&] {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    return bench::rss_bytes(node.pid());
  };

  std::printf("ixnode memory per live interaction, %d interactions, load %s\n", n, bench::load_average().c_str());
  client.throughput(make_submit, 1000, 500);
  client.throughput(make_stop, 1000, 500);
  const double base = settle();
  const double rate = client.throughput(make_submit, n, 500);
  const double full = settle();
  client.throughput(make_stop, n, 500);
  const double stopped = settle();
  client.throughput(make_submit, n, 500);
  const double refilled = settle();

  std::printf("  %-52s %10.1f MB\n", "RSS after start-up (1,000 submitted and stopped)", mb(base));
  std::printf("  %-52s %10.1f MB   (%.0f submits/s)\n", ("RSS with " + std::to_string(n) + " live").c_str(), mb(full), rate);
  std::printf("  %-52s %10.0f bytes\n", "memory per live interaction", (full - base) / n);
  std::printf("  %-52s %10.1f MB\n", "RSS after stopping all of them", mb(stopped));
  std::printf("  %-52s %10.1f MB   (%+.0f bytes per interaction against the first fill)\n",
              ("RSS with " + std::to_string(n) + " live again").c_str(), mb(refilled), (refilled - full) / n);
  node.kill(SIGTERM);
  uv_run(&loop, UV_RUN_NOWAIT);
  std::filesystem::remove_all(dir);
  return 0;
}
