#!/usr/bin/env bash
# Installs what beanpole needs on a fresh Debian (bookworm) machine, only what is missing.
# Run as root (or with sudo available). Each package and why it is here:
#   g++ cmake ninja-build pkg-config   the toolchain: C++20 compiler, CMake 3.25, Ninja
#   clang libclang-rt-14-dev           the sanitizer pass and the libFuzzer smoke test
#   libasio-dev                        standalone Asio: sockets, timers, completion tokens (async client)
#   libgtest-dev libgmock-dev          unit and integration tests
#   libbenchmark-dev                   codec micro-benchmarks
#   libcli11-dev                       the beanpole tool's command line parsing
#   nlohmann-json3-dev                 the beanpole tool's --json output and export/import NDJSON
#   libfmt-dev                         the beanpole tool's output formatting
#   beanstalkd                         the real server every integration test and the demo run against
#   python3 tmux                       CLI tests: JSON checks, and `top` under a pseudo-terminal
#   libcpp-httplib-dev                 HTTP server of `beanpole exporter` and `beanpole console` (cpp-httplib
#                                      0.11: a maintained library rather than hand-written HTTP)
#   python3-prometheus-client          the exporter test reads /metrics with a real Prometheus parser
#   chromium                           the web console's browser test (headless, driven by playwright-core)
#   nodejs npm                         run that test and install playwright-core from its lockfile; only when
#                                      `node` and `npm` are not already on PATH (e.g. from NodeSource)
#   valgrind                           the callgrind test: instructions per put against a raw C driver
#   doxygen                            the API reference; its test fails on an undocumented declaration
#   libssl-dev                         OpenSSL for tls:// endpoints (blocking client; Asio SSL streams)
#   stunnel4 openssl                   TLS tests: a real TLS terminator before beanstalkd, test certificates
set -euo pipefail

PACKAGES=(g++ cmake ninja-build pkg-config clang libclang-rt-14-dev libasio-dev libgtest-dev
          libgmock-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev libfmt-dev beanstalkd python3
          tmux valgrind libcpp-httplib-dev python3-prometheus-client chromium doxygen libssl-dev
          stunnel4 openssl)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "[setup] installing: ${missing[*]}" >&2
for attempt in 1 2 3 4 5 6; do  # another apt may hold the lock for a while
  if $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
       --no-install-recommends "${missing[@]}" >/tmp/beanpole-apt.log 2>&1; then
    exit 0
  fi
  echo "[setup] apt-get failed (attempt $attempt), retrying in 10 s; see /tmp/beanpole-apt.log" >&2
  sleep 10
done
cat /tmp/beanpole-apt.log >&2
exit 1
