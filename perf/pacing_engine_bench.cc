// The pacing module's costs inside the proxy (Google Benchmark):
//   - DecisionCycle/N: one cycle over N pacing targets (every target's statistics read, the
//     Pacer asked) — the budget is a small fraction of the 1 s minimum refresh period,
//     aim <= 20 ms for 10,000 targets;
//   - StatisticsPerEvent: what the statistics cost per reporting event of the merged stream
//     (a realistic mix: submissions, parties added and removed, stops, agent readiness), next
//     to VerifyOnly, the envelope verification every consumer of the feed pays anyway.
//
//   pacing_engine_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include "perf/pacing_stream.h"
#include "protocol/wire/messages.h"
#include "proxy/pacing/pacing_engine.h"

namespace {

using namespace ix;

using perf::pacing_stream::cluster;
using perf::pacing_stream::kSecond;
using perf::pacing_stream::kStart;
using perf::pacing_stream::stream;

std::span<const uint8_t> payload(const wire::Frame& f) {
  return {f.data() + wire::kFrameHeaderSize, f.size() - wire::kFrameHeaderSize};
}

void DecisionCycle(benchmark::State& state) {
  const int targets = static_cast<int>(state.range(0));
  auto config = cluster(targets);
  pacing::PacingEngine engine(*config);
  for (const wire::Frame& f : stream(targets, targets * 4)) engine.on_event(0, payload(f));
  int64_t now = kStart + 120 * kSecond;
  for (auto _ : state) {
    now += kSecond;
    benchmark::DoNotOptimize(engine.decide(now, false).data());
  }
  state.counters["targets"] = targets;
}
BENCHMARK(DecisionCycle)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

void StatisticsPerEvent(benchmark::State& state) {
  auto config = cluster(100);
  const std::vector<wire::Frame> frames = stream(100, 20'000);
  size_t events = 0;
  for (auto _ : state) {
    state.PauseTiming();
    pacing::PacingEngine engine(*config);
    state.ResumeTiming();
    for (const wire::Frame& f : frames) engine.on_event(0, payload(f));
    events += frames.size();
  }
  state.counters["ns_per_event"] = benchmark::Counter(static_cast<double>(events) * 1e-9,
                                                      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(StatisticsPerEvent)->Unit(benchmark::kMillisecond);

void VerifyOnly(benchmark::State& state) {
  const std::vector<wire::Frame> frames = stream(100, 20'000);
  size_t events = 0;
  for (auto _ : state) {
    for (const wire::Frame& f : frames) benchmark::DoNotOptimize(wire::verify_envelope(payload(f)).ok());
    events += frames.size();
  }
  state.counters["ns_per_event"] = benchmark::Counter(static_cast<double>(events) * 1e-9,
                                                      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(VerifyOnly)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
