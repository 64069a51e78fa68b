#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs the main job.
#
# Today: installs the packages, builds everything, checks the local cluster's configuration
# (examples/local-cluster.toml), starts its node pairs (primary and backup each) as real ixnode
# processes with SQLite under .ix/ and its two ixproxy processes, shows the proxy's view of the
# pairs, kills one primary and shows the proxy following its backup taking over, and stops
# everything. ixctl's cluster launcher and the workload simulator come with the next issues;
# this command will then run the whole local cluster driven by the simulator.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j2

config=examples/local-cluster.toml
logs=.ix/logs
mkdir -p "$logs"
echo
echo "== The local cluster ($config)"
./build/tools/ixctl config check "$config"

# GET an admin URL with nothing but bash.
http_get() {
  local port=$1 path=$2
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path" >&3
  sed -e '1,/^\r$/d' <&3
  exec 3<&-
}
wait_ready() {
  local port=$1
  for _ in $(seq 1 100); do
    if http_get "$port" /readyz 2>/dev/null | grep -q '^ready'; then return 0; fi
    sleep 0.1
  done
  return 1
}

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

start_node() {  # pair role
  ./build/node/ixnode --config "$config" --node "$1" --role "$2" >"$logs/$1-$2.log" 2>&1 &
  pids+=($!)
  eval "pid_${1//-/_}_$2=$!"
}

echo
echo "== Starting node pairs (logs in $logs/)"
start_node pair-1 primary
start_node pair-1 backup
start_node pair-2 primary
start_node pair-2 backup
wait_ready 9101 && echo "pair-1 primary ready: http://127.0.0.1:9101/status"
wait_ready 9201 && echo "pair-2 primary ready: http://127.0.0.1:9201/status"
echo "pair-1 backup says: $(http_get 9102 /readyz)"
echo
echo "== pair-1 primary /status"
http_get 9101 /status
echo

start_proxy() {  # id
  ./build/proxy/ixproxy --config "$config" --proxy "$1" >"$logs/$1.log" 2>&1 &
  pids+=($!)
}
echo "== Starting the proxies"
start_proxy proxy-1
start_proxy proxy-2
wait_ready 9001 && echo "proxy-1 ready: clients on 127.0.0.1:7001, admin http://127.0.0.1:9001/status"
wait_ready 9002 && echo "proxy-2 ready: clients on 127.0.0.1:7002, admin http://127.0.0.1:9002/status"
pairs() {  # the proxy's view: which node serves each pair
  python3 - "$(http_get 9001 /status)" <<'PY'
import json, sys
for p in json.loads(sys.argv[1])["pairs"]:
    states = ", ".join(n["node"] + ": " + n["state"] for n in p["nodes"])
    print("  %s: serving=%s failovers=%d (%s)" % (p["id"], p["serving"] or "nobody", p["failovers"], states))
PY
}
echo "proxy-1 sees:"
pairs
echo
echo "== Killing pair-1's primary (kill -9); its backup takes the lease, the proxy follows"
kill -9 "$pid_pair_1_primary"
wait "$pid_pair_1_primary" 2>/dev/null || true
if wait_ready 9102; then
  sleep 0.5
  echo "proxy-1 sees:"
  pairs
fi
echo
echo "Metrics: curl http://127.0.0.1:9001/metrics   (stopping everything now)"
