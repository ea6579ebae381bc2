# Assertions shared by the CLI test scripts (run_tests.sh, pool_tests.sh). Sourced; each test
# runs in a process of its own with $T its scratch directory.

fail() {
  echo "    FAIL: $*" >&2
  exit 1
}

# run CMD...: runs it, stdout in $T/out, stderr in $T/err, exit status in $RC.
run() {
  "$@" >"$T/out" 2>"$T/err"
  RC=$?
}

expect_rc() {
  [[ $RC == "$1" ]] || fail "expected exit $1, got $RC (${2:-}); stderr: $(head -c 400 "$T/err")"
}
expect_out() {
  local got
  got=$(cat "$T/out")
  [[ "$got" == "$1" ]] || fail "expected stdout '$1', got '$got'"
}
expect_err_has() {
  grep -q -- "$1" "$T/err" || fail "stderr lacks '$1': $(head -c 400 "$T/err")"
}
assert_eq() {
  [[ "$1" == "$2" ]] || fail "${3:-values differ}: expected '$2', got '$1'"
}
# json_check PYTHON-EXPR < input: the input parses as JSON (as `d`) and EXPR is true.
json_check() {
  python3 -c '
import json, sys
d = json.load(sys.stdin)
if not eval(sys.argv[1]):
    sys.exit("check failed: %s on %r" % (sys.argv[1], d))' "$1" || fail "JSON check: $1"
}

# wait_exit PID TENTHS: waits until the process PID has exited; its status in $RC. Fails if it
# is still running after TENTHS tenths of a second.
wait_exit() {
  local i
  for ((i = 0; i < $2; i++)); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$1" 2>/dev/null && fail "process $1 still running after $(($2 / 10)) s"
  wait "$1"
  RC=$?
}
