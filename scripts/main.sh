#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs the main job: the local example
# cluster (examples/local-cluster.toml: two node pairs, each a primary and a backup ixnode on
# SQLite, and two ixproxy processes) started by `ixctl cluster up`, the engagement-service
# simulator (ixengage: the HTTPS endpoint the proxies' pacing posts to, whose simulated visitors
# turn accepted invitations into proactive chats), the workload simulator driving the cluster
# through both proxies, and a reporting client (`ixctl tail`) standing in for a statistics
# server. Runs until Ctrl-C; IX_MAIN_DURATION=SECONDS makes it stop by itself.
#
# What persists in .ix/ from one run to the next: the pairs' SQLite databases (.ix/data: the
# interactions, agents' workbins, the reporting event log), ixengage's CA and certificate
# (.ix/engagement-sim) and the secret with which the proxies authenticate to the nodes
# (.ix/proxy-secret, made by `ixctl cluster up` on the first run). Logs (.ix/logs) are appended
# to. `--fresh` starts from empty data: it removes .ix/data and .ix/logs first. The status page is
# http://127.0.0.1:9001/.
#
# The workload: customers arrive at 1.5 per second (three chats for one e-mail), which the
# example's eight agents carry with room to spare — few abandon, the queues stay short.
# `--overload` makes them arrive at 6 per second instead, far more than the agents can carry:
# the queues grow, customers abandon, and the status page shows it.
#
#   scripts/main.sh [--fresh] [--overload] [--setup-only]
#
# The build is reused: the first run configures build/ and builds the five programs; later runs
# build only what changed (nothing, when nothing did) and say so. `--setup-only` stops there:
# the dependencies installed and the programs built, nothing started.
set -euo pipefail
cd "$(dirname "$0")/.."

fresh=0
setup_only=0
rate=1.5      # arrivals per second the example's agents carry (the default workload)
for arg in "$@"; do
  case "$arg" in
    --fresh) fresh=1 ;;
    --overload) rate=6 ;;
    --setup-only) setup_only=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "main: unknown argument \"$arg\" (usage: scripts/main.sh [--fresh] [--overload] [--setup-only])" >&2; exit 2 ;;
  esac
done

# IX_MAIN_BUILD_DIR: use the binaries of that build folder as they are (no set-up, no build) —
# the test suite's short run of the main job does this.
build=${IX_MAIN_BUILD_DIR:-build}
programs=(ixnode ixproxy ixctl ixsim ixengage)
if [ -z "${IX_MAIN_BUILD_DIR:-}" ]; then
  ./scripts/install-deps.sh
  # Configured once; later runs let the build re-run CMake itself when a CMakeLists.txt changed.
  if [ ! -f build/CMakeCache.txt ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
  fi
  # Only what the main job runs: the full build (tests, benchmarks) is the test command's.
  stamp=$(mktemp)
  cmake --build build -j2 --target "${programs[@]}" >"$stamp.log" 2>&1 || { cat "$stamp.log"; exit 1; }
  if grep -q "Linking CXX executable" "$stamp.log"; then
    grep "Linking CXX executable" "$stamp.log" | sed 's/^.*Linking CXX executable /build: rebuilt /'
  else
    echo "build: up to date (${programs[*]})"
  fi
  rm -f "$stamp" "$stamp.log"
fi
[ "$setup_only" = 1 ] && exit 0

config=examples/local-cluster.toml
work=.ix
ixctl=$build/tools/ixctl
if [ "$fresh" = 1 ]; then
  launcher_pid=$(sed -n 's/.*"launcher_pid": *\([0-9][0-9]*\).*/\1/p' "$work/cluster.json" 2>/dev/null || true)
  if [ -n "$launcher_pid" ] && kill -0 "$launcher_pid" 2>/dev/null; then
    echo "main: a cluster is running from $work; stop it (ixctl cluster down --dir $work) before --fresh" >&2
    exit 1
  fi
  echo "main: --fresh: removing $work/data and $work/logs"
  rm -rf "$work/data" "$work/logs"
fi
mkdir -p "$work/logs"
"$ixctl" config check "$config" >/dev/null
# The pacing client's credentials ([pacing] credentials-env) and the simulator's: the same pair.
export IX_ENGAGEMENT_CREDENTIALS="${IX_ENGAGEMENT_CREDENTIALS:-ixcluster:local-secret}"

engage_pid=
launcher=
tail_pid=
cleanup() {
  [ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null || true
  if [ -n "$launcher" ] && kill -0 "$launcher" 2>/dev/null; then
    echo
    "$ixctl" cluster down --dir "$work" || true
  fi
  [ -n "$engage_pid" ] && kill "$engage_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo
echo "== Starting the engagement-service simulator (ixengage)"
# Port 7443 and the CA in .ix/engagement-sim: where [pacing] in $config posts and what it trusts.
# Its own session too: it outlives the cluster's pacing posts and is stopped last.
setsid "$build/tools/ixengage" --config "$config" --port 7443 --state-dir "$work/engagement-sim" \
  --credentials-env IX_ENGAGEMENT_CREDENTIALS >"$work/logs/ixengage.log" 2>&1 &
engage_pid=$!
for _ in $(seq 1 100); do
  grep -q "^ixengage listening on" "$work/logs/ixengage.log" 2>/dev/null && break
  if ! kill -0 "$engage_pid" 2>/dev/null; then
    cat "$work/logs/ixengage.log"
    echo "main: the engagement-service simulator did not start" >&2
    exit 1
  fi
  sleep 0.1
done
grep "^ixengage listening on" "$work/logs/ixengage.log"

echo
echo "== Starting the local cluster ($config)"
# In its own session: Ctrl-C stops the simulator first; the cluster is stopped afterwards.
setsid "$ixctl" cluster up "$config" --dir "$work" >"$work/logs/cluster-up.log" 2>&1 &
launcher=$!

for _ in $(seq 1 600); do
  grep -q "Stop with Ctrl-C" "$work/logs/cluster-up.log" 2>/dev/null && break
  if ! kill -0 "$launcher" 2>/dev/null; then
    cat "$work/logs/cluster-up.log"
    echo "main: the cluster did not start" >&2
    exit 1
  fi
  sleep 0.1
done
sed -n '/^The cluster is up/,/^Status page/p' "$work/logs/cluster-up.log"

"$ixctl" tail >"$work/logs/reporting-stream.log" 2>&1 &
tail_pid=$!

cat <<INFO

Status page:      http://127.0.0.1:9001/   (and http://127.0.0.1:9002/ on proxy-2)
Engagement sim:   curl --cacert $work/engagement-sim/ca.pem https://127.0.0.1:7443/admin/state   (log: $work/logs/ixengage.log)
Reporting stream: $work/logs/reporting-stream.log   (live: $ixctl tail)
Cluster status:   $ixctl status
Try a failover:   kill -9 the "pair-1 primary" pid above and watch the status page
Stop:             Ctrl-C (the simulator prints its report, then the cluster stops)

== The simulator (ixsim) drives the cluster through both proxies
INFO
# Proactive chats come from ixengage's accepted invitations, not from ixsim's own workload;
# ixsim's agents handle them (its routing engine reads their VirtualQueue user data).
sim_args=(--config "$config" --server 127.0.0.1:7001 --server 127.0.0.1:7002 --rate "$rate" --handle-time 8 --patience 40
  --proactive-share 0)
if [ "$rate" != 1.5 ]; then
  echo "(--overload: customers arrive at $rate per second, more than the agents can carry)"
fi
if [ -n "${IX_MAIN_DURATION:-}" ]; then sim_args+=(--duration "$IX_MAIN_DURATION"); fi
"$build/tools/ixsim" "${sim_args[@]}" || true

echo
echo "== The cluster now"
"$ixctl" status || true

echo
echo "== Pacing"
"$ixctl" pacing status --config "$config" || true
"$ixctl" pacing status --config "$config" --summary || true
