#!/usr/bin/env bash
# A one-round, small-N run of every beanpole-bench mode and of the codec micro-benchmarks
# against a private beanstalkd, so the benchmark cannot silently rot.
# usage: smoke.sh BUILD_DIR
set -euo pipefail
build=$1
. "$(dirname "$0")/../scripts/private-beanstalkd.sh"
start_private_beanstalkd -z 1100000
port=${BEANSTALKD_ADDR##*:}
bench=$build/beanpole-bench
passed=0 failed=0
check() {  # name, expected ops, command...
  local name=$1 n=$2; shift 2
  local out
  if out=$("$@" 2>&1) && grep -q "^RESULT .* ops=$n " <<<"$out"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); echo "FAILED: $name"; echo "$out"
  fi
}
check pipe-put 2000 "$bench" -p "$port" -m pipe-put -n 2000
check pipe-rd 2000 "$bench" -p "$port" -m pipe-rd -n 2000
check sync-put 500 "$bench" -p "$port" -m sync-put -n 500
check sync-rd 500 "$bench" -p "$port" -m sync-rd -n 500
check coro-put 2000 "$bench" -p "$port" -m coro-put -n 2000
check coro-rd 2000 "$bench" -p "$port" -m coro-rd -n 2000
check large 20 "$bench" -p "$port" -m large -n 20 -s 1048576 -c 4
if out=$("$bench" -p "$port" -m reserve-latency -n 50) && grep -q "LATENCY waiting" <<<"$out"; then
  passed=$((passed + 1))
else
  failed=$((failed + 1)); echo "FAILED: reserve-latency"; echo "$out"
fi
if [ -x "$build/beanpole-codec-bench" ]; then
  if "$build/beanpole-codec-bench" --benchmark_min_time=0.01 >/dev/null 2>&1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); echo "FAILED: codec micro-benchmarks"
  fi
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
