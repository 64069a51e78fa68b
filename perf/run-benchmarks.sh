#!/usr/bin/env bash
# Builds and runs every benchmark in perf/, printing the figures and the side-by-side ratios
# that perf/RESULTS.md records. Usage: perf/run-benchmarks.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIX_BENCH=ON >/dev/null
cmake --build "$build" -j2 --target codec_bench transport_bench node_submit_bench failover_bench node_flow_bench proxy_bench reporting_merge_bench merge_bench pacing_bench pacing_feed_bench pacing_stall_bench engagement_bench >/dev/null

echo "== $(date -u +%Y-%m-%d) on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
"$build/perf/codec_bench" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
json=$(mktemp)
"$build/perf/transport_bench" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_out="$json" --benchmark_out_format=json
# TLS versus plain, per payload size (medians).
python3 - "$json" <<'PY'
import json, sys
runs = {b["run_name"]: b for b in json.load(open(sys.argv[1]))["benchmarks"] if b.get("aggregate_name") == "median"}
print("\nTLS / plain echo throughput (median):")
for size in (64, 1024, 16384):
    plain = runs.get(f"BM_EchoPlain/{size}/real_time")
    tls = runs.get(f"BM_EchoTls/{size}/real_time")
    if plain and tls:
        print(f"  {size:>6} B frames: plain {plain['items_per_second']/1e3:9.1f} k frames/s, "
              f"TLS {tls['items_per_second']/1e3:9.1f} k frames/s, ratio {tls['items_per_second']/plain['items_per_second']:.2f}")
PY
rm -f "$json"

echo
echo "ixnode submit throughput (real process, durable commits):"
"$build/perf/node_submit_bench" "$build/node/ixnode" 20000 500

echo
echo "failover time of a pair (real processes, SQLite):"
"$build/perf/failover_bench" "$build/node/ixnode" --runs 5 --lease-timeout-ms 1000

echo
echo "ixnode flows (real process):"
"$build/perf/node_flow_bench" "$build/node/ixnode" 10000 2000

echo
echo "ixproxy cost (real processes; direct vs HAProxy vs ixproxy in front of the same node):"
"$build/perf/proxy_bench" "$build/node/ixnode" "$build/proxy/ixproxy" 200000 --rounds 3 --idle 10000

echo
echo "the merged reporting stream's core (in process, 4 sources):"
"$build/perf/reporting_merge_bench" 2000000

echo
echo "ixproxy merges (real processes; one node vs 4 pairs through the proxy):"
"$build/perf/merge_bench" "$build/node/ixnode" "$build/proxy/ixproxy" 100000

echo
echo "pacing quality (simulation; default grid, seed 1) and one decision cycle for 10,000 targets:"
"$build/perf/pacing_bench"
"$build/perf/pacing_bench" --decision-cycle 10000

echo
echo "the merged reporting feed with and without the pacing module (in process; 500,000 events/s, then flat out):"
"$build/perf/pacing_feed_bench" 200000 5 16384 500000
"$build/perf/pacing_feed_bench" 200000 5 16384

echo
echo "engagement client: 10,000 targets built, posted over loopback HTTPS and parsed:"
"$build/perf/engagement_bench"

echo
echo "proxy routing with pacing's engagement service stalled, versus pacing off:"
"$build/perf/pacing_stall_bench" "$build/node/ixnode" "$build/proxy/ixproxy" 20000 200
