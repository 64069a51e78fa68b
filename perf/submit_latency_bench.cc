// Submit latency over time at a sustained fixed rate against a real ixnode (SQLite, durable group
// commit), the database growing all along (every submit adds an interaction row and two
// event-log rows; nothing is stopped). Open loop: submits are due at start + i / rate and each
// latency is measured from the moment its submit was due, so a stall counts for every submit it
// held back (no coordinated omission). Every `--interval` seconds (one minute by default) it
// prints that interval's latency histogram, p50 / p99 / p99.9 / max and the database's size,
// then the whole run's figures against the goal (p99.9 <= 50 ms).
//
//   submit_latency_bench IXNODE [--rate 2000] [--seconds 60] [--interval 60] [--connections 4]
//
// The 10-minute run for the record: --seconds 600 (opt-in; the default is one minute).
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "perf/bench_client.h"
#include "perf/proc_stats.h"
#include "protocol/net/connection.h"
#include "protocol/net/timer.h"
#include "protocol/wire/kv.h"
#include "tests/support/frame_peers.h"
#include "tests/support/process.h"

namespace {

using namespace ix;

// Upper bounds of the histogram's buckets, in milliseconds (the last one is open).
constexpr std::array<double, 12> kBucketsMs = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000};

struct Interval {
  std::vector<double> latencies_ms;
};

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t at = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(at), v.end());
  return v[at];
}

double file_mb(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<double>(size) / 1e6;
}

void print_interval(const char* label, std::vector<double> v, double db_mb, double wal_mb) {
  std::array<size_t, kBucketsMs.size() + 1> counts{};
  for (double ms : v) {
    size_t b = 0;
    while (b < kBucketsMs.size() && ms > kBucketsMs[b]) ++b;
    ++counts[b];
  }
  std::string histogram;
  for (size_t b = 0; b < counts.size(); ++b) {
    if (counts[b] == 0) continue;
    histogram += (b < kBucketsMs.size() ? "<=" + std::to_string(static_cast<int>(kBucketsMs[b])) : ">" + std::to_string(5000)) +
                 "ms:" + std::to_string(counts[b]) + " ";
  }
  const double max = v.empty() ? 0 : *std::max_element(v.begin(), v.end());
  std::printf("  %-9s %8zu  p50 %7.2f  p99 %7.2f  p99.9 %8.2f  max %8.1f ms  db %7.1f MB  wal %6.1f MB  | %s\n", label, v.size(),
              percentile(v, 0.5), percentile(v, 0.99), percentile(v, 0.999), max, db_mb, wal_mb, histogram.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  auto usage = [&] {
    std::fprintf(stderr, "usage: %s IXNODE [--rate 2000] [--seconds 60] [--interval 60] [--connections 4]\n", argv[0]);
    return 2;
  };
  if (argc < 2) return usage();
  const std::string ixnode = argv[1];
  int rate = 2000, seconds = 60, interval = 60, connections = 4;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    int* target = arg == "--rate" ? &rate : arg == "--seconds" ? &seconds : arg == "--interval" ? &interval
                  : arg == "--connections"                     ? &connections
                                                               : nullptr;
    if (target == nullptr || i + 1 >= argc) return usage();
    *target = std::atoi(argv[++i]);
    if (*target <= 0) return usage();
  }
  auto dir = std::filesystem::temp_directory_path() / ("ix-latency-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  uv_loop_t loop;
  uv_loop_init(&loop);
  const std::vector<uint16_t> ports = test::unused_ports(&loop, 4);
  const uint64_t total = static_cast<uint64_t>(rate) * static_cast<uint64_t>(seconds);
  std::ofstream(dir / "cluster.toml") << bench::one_pair_config(ports, std::max<uint64_t>(total + 1000, 1'000'000));
  test::Process node({ixnode, "--config", (dir / "cluster.toml").string(), "--node", "bench", "--role", "primary", "--log-level", "warn"},
                     (dir / "ixnode.log").string());
  node.start();

  // Until the node serves (bench::Client retries its registration), then the run's own connections.
  { bench::Client ready(&loop, ports[0]); }
  struct Link {
    std::shared_ptr<net::Connection> connection;
    wire::FrameDecoder decoder;
    bool registered = false;
  };
  std::vector<std::unique_ptr<Link>> links;
  std::map<uint64_t, uint64_t> due_ns;  // ref -> when the submit was due
  std::vector<Interval> intervals(static_cast<size_t>((seconds + interval - 1) / interval));
  uint64_t start_ns = 0, answered = 0, errors = 0;
  auto on_reply = [&](std::span<const uint8_t> payload) {
    auto e = wire::verify_envelope(payload);
    if (!e.ok()) return;
    const proto::Envelope* envelope = *e;
    if (envelope->body_type() == proto::Message::EventClientRegistered) return;
    auto it = due_ns.find(envelope->ref_id());
    if (it == due_ns.end()) return;
    if (envelope->body_type() != proto::Message::EventSubmitted) {
      ++errors;
      if (const proto::EventError* error = envelope->body_as_EventError()) {
        if (errors <= 5) std::fprintf(stderr, "error %d: %s\n", error->code(), error->text() ? error->text()->c_str() : "");
      }
    }
    const uint64_t now = uv_hrtime();
    const size_t slot = std::min(intervals.size() - 1, static_cast<size_t>((it->second - start_ns) / 1'000'000'000ull / interval));
    intervals[slot].latencies_ms.push_back(static_cast<double>(now - it->second) / 1e6);
    due_ns.erase(it);
    ++answered;
  };
  for (int i = 0; i < connections; ++i) {
    auto link = std::make_unique<Link>();
    link->connection = test::connect_to(&loop, ports[0]);
    Link* l = link.get();
    link->connection->set_on_data([l, &on_reply](std::span<const uint8_t> d) {
      l->decoder.feed(d, [l, &on_reply](std::span<const uint8_t> payload) {
        auto e = wire::verify_envelope(payload);
        if (e.ok() && (*e)->body_type() == proto::Message::EventClientRegistered) l->registered = true;
        on_reply(payload);
      });
    });
    link->connection->write(wire::encode_register_client(0, proto::ClientType::MediaServer, "latency-bench", {}));
    links.push_back(std::move(link));
  }
  while (!std::all_of(links.begin(), links.end(), [](const auto& l) { return l->registered; })) uv_run(&loop, UV_RUN_ONCE);

  proto::RequestSubmitT submit;
  submit.tenant_id = "101";
  submit.media_type = "chat";
  submit.queue = "inbound";
  submit.user_data = wire::kv_list({{"Subject", "benchmark"}, {"CustomerId", "c-1"}, {"Score", 5}});

  std::printf("submit latency at %d submits/s for %d s over %d connections (open loop, from each submit's due time), load %s\n",
              rate, seconds, connections, bench::load_average().c_str());
  std::printf("  %-9s %8s  (ms)\n", "interval", "submits");
  uint64_t sent = 0;
  size_t printed = 0;
  net::Timer tick(&loop);
  start_ns = uv_hrtime();
  std::function<void()> on_tick = [&] {
    const uint64_t now = uv_hrtime();
    const uint64_t due = std::min<uint64_t>(total, (now - start_ns) * static_cast<uint64_t>(rate) / 1'000'000'000ull);
    while (sent < due) {
      const uint64_t ref = ++sent;
      due_ns[ref] = start_ns + (ref - 1) * 1'000'000'000ull / static_cast<uint64_t>(rate);
      links[ref % links.size()]->connection->write(wire::encode_frame(ref, 0, submit));
    }
    // An interval is printed once everything due in it has been answered.
    while (printed < intervals.size()) {
      const uint64_t end_ns = start_ns + static_cast<uint64_t>(printed + 1) * static_cast<uint64_t>(interval) * 1'000'000'000ull;
      if (now < end_ns && sent < total) break;
      if (!due_ns.empty() && due_ns.begin()->second < end_ns) break;  // some submit due in it is unanswered
      const std::string label = std::to_string(printed * static_cast<size_t>(interval)) + "-" +
                                std::to_string(std::min<size_t>((printed + 1) * static_cast<size_t>(interval), static_cast<size_t>(seconds))) + "s";
      print_interval(label.c_str(), intervals[printed].latencies_ms, file_mb(dir / "bench.db"), file_mb(dir / "bench.db-wal"));
      std::fflush(stdout);
      ++printed;
    }
    if (answered < total) tick.start(1, on_tick);
  };
  tick.start(1, on_tick);
  while (answered < total) uv_run(&loop, UV_RUN_ONCE);
  while (printed < intervals.size()) {
    const std::string label = std::to_string(printed * static_cast<size_t>(interval)) + "s-";
    print_interval(label.c_str(), intervals[printed].latencies_ms, file_mb(dir / "bench.db"), file_mb(dir / "bench.db-wal"));
    ++printed;
  }
  std::vector<double> all;
  for (const Interval& i : intervals) all.insert(all.end(), i.latencies_ms.begin(), i.latencies_ms.end());
  print_interval("whole run", all, file_mb(dir / "bench.db"), file_mb(dir / "bench.db-wal"));
  std::vector<double> copy = all;
  const double p999 = percentile(copy, 0.999);
  std::printf("  goal p99.9 <= 50 ms: %s (p99.9 %.2f ms); errors %llu; load %s\n", p999 <= 50 ? "met" : "NOT met", p999,
              static_cast<unsigned long long>(errors), bench::load_average().c_str());
  for (auto& l : links) l->connection->abort("done");
  node.kill(SIGTERM);
  uv_run(&loop, UV_RUN_NOWAIT);
  std::filesystem::remove_all(dir);
  return errors == 0 ? 0 : 1;
}
