# Assertions and helpers shared by the CLI test scripts (run_tests.sh, pool_tests.sh). Sourced;
# each test runs in a process of its own with $T its scratch directory. harness.sh defines
# free_port, accepting and SERVER_PIDS (the processes stop_servers ends).

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

# tear_job_in_binlog DIR BODY: zeroes BODY and the CRLF after it in the binlog in DIR, as a put
# torn by a SIGKILL comes back from beanstalkd 1.12's binlog. Kill the server first, restart it
# on DIR after.
tear_job_in_binlog() {
  python3 - "$1" "$2" <<'EOF' || fail "tearing the job '$2' in $1"
import glob, os, sys
needle = sys.argv[2].encode() + b"\r\n"
for path in glob.glob(os.path.join(sys.argv[1], "binlog.*")):
    data = bytearray(open(path, "rb").read())
    at = data.find(needle)
    if at >= 0:
        os.chmod(path, 0o600)  # beanstalkd leaves it read-only
        data[at:at + len(needle)] = bytes(len(needle))
        open(path, "wb").write(data)
        sys.exit(0)
sys.exit("not in the binlog")
EOF
}

# start_cut_proxy VAR UPSTREAM PREFIX: a loopback proxy to UPSTREAM (HOST:PORT) that forwards
# the first client write starting with PREFIX to the server, then closes the connection before
# the reply: the command took effect, the client never hears so. VAR gets its address.
start_cut_proxy() {
  local var=$1 upstream=$2 prefix=$3 port
  port=$(free_port)
  python3 - "$port" "${upstream##*:}" "$prefix" <<'EOF' &
import select, socket, sys, time
port, upstream, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port)); ls.listen(8)
pairs, clients, armed = {}, set(), True
while True:
    r, _, _ = select.select([ls] + list(pairs), [], [])
    for s in r:
        if s is ls:
            c, _ = ls.accept(); u = socket.create_connection(("127.0.0.1", upstream))
            pairs[c] = u; pairs[u] = c; clients.add(c)
            continue
        if s not in pairs: continue
        data = s.recv(65536); other = pairs[s]
        if not data:
            for x in (s, other): pairs.pop(x, None); x.close()
            continue
        other.sendall(data)
        if armed and s in clients and data.startswith(prefix):
            armed = False; time.sleep(0.05)
            for x in (s, other): pairs.pop(x, None); x.close()
EOF
  SERVER_PIDS+=("$!")
  accepting "$port" 50
  printf -v "$var" '127.0.0.1:%s' "$port"
}
