#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs the main job.
#
# Today (foundation): installs the packages, builds everything, and shows the foundation at
# work — the wire codec and the transport measured on this machine — then says what comes
# next. Later issues turn this into a local cluster (two node pairs, two proxies) driven by the
# workload simulator.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j2

echo
echo "== ixcluster foundation built =="
echo "Wire protocol:  protocol/schema/ixcluster.fbs ($(grep -c '^table ' protocol/schema/ixcluster.fbs) tables)"
echo
echo "The local cluster the main job will start (examples/local-cluster.toml):"
./build/tools/ixctl config check examples/local-cluster.toml
echo
echo "Frame codec and transport, measured here:"
./build/perf/codec_bench --benchmark_min_time=0.2 --benchmark_filter='Submit|ReportingEvent'
./build/perf/transport_bench --benchmark_min_time=0.2 --benchmark_filter='/1024'
cat <<'NEXT'

Coming next (see `issues`):
  - ixnode: the interaction server node (SQLite store, queues, agents, reporting, failover)
  - ixproxy: the routing proxy that makes node pairs look like one server
  - ixctl cluster up: this command will then start a local cluster driven by ixsim
NEXT
