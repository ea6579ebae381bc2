#!/usr/bin/env bash
# Runs every example against a private beanstalkd; each must exit 0 within 20 s.
# usage: run-examples.sh BUILD_EXAMPLES_DIR
set -euo pipefail
dir=$1
. "$(dirname "$0")/../scripts/private-beanstalkd.sh"
start_private_beanstalkd
passed=0 failed=0
for example in demo sync_put_reserve async_callbacks async_futures cpp20_coroutines \
    cpp20_worker_coroutine sync_worker pool_put_reserve; do
  if timeout 20 "$dir/$example" "$BEANSTALKD_ADDR" >"$dir/$example.out" 2>&1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAILED: $example"; cat "$dir/$example.out"
  fi
done
# The demo's promise: every job it put was reserved and deleted.
grep -q "tube demo: 0 ready, 0 reserved, 5 put in total" "$dir/demo.out" || {
  failed=$((failed + 1)); echo "FAILED: demo output"; cat "$dir/demo.out"; }
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
