#!/usr/bin/env bash
# Installs every Debian package that the build, the tests, the benchmarks and the demo need.
# Idempotent: when everything is already present it only checks and returns.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache clang libclang-rt-14-dev
  mold   # every program links with mold (IX_LINKER=auto; perf/RESULTS.md: build and CI time)
  libuv1-dev node-llhttp android-libboringssl-dev
  libflatbuffers-dev flatbuffers-compiler libmimalloc-dev
  libgtest-dev libgmock-dev libbenchmark-dev libsqlite3-dev
  libpq-dev postgresql   # PostgreSQL storage; the tests start their own server (initdb, pg_ctl)
  libtomlplusplus-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  prometheus
  haproxy    # perf/proxy_bench: the baseline forwarder (TCP mode) beside ixproxy
  chromium   # the status page test loads the page in headless Chromium
  dpkg-dev   # cpack -G DEB (dpkg-shlibdeps computes the package's dependencies)
  systemd    # systemd-analyze verify checks the packaged units
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
# --no-install-recommends keeps prometheus from pulling its exporters and web assets we never use.
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
