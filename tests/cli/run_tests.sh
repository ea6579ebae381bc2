#!/usr/bin/env bash
# End-to-end tests of the beanpole tool: the real binary against real beanstalkd servers that
# this script starts on free loopback ports (never 11300) and stops by PID.
#
#   run_tests.sh BEANPOLE BEANSTALKD [MANPAGE] [COMPLETIONS_DIR] [TEST_NAME...]
#
# Every test_* function runs in its own process with a hard timeout, against a shared server
# ($S1, one tube per test) or servers of its own. Prints "N passed, N failed"; exits non-zero
# when a test failed; BEANPOLE_CLI_SHARD=K/N runs every Nth test only (see harness.sh). Needs
# bash, python3 (free ports, JSON checks) and tmux (the top test).
set -u

BP=$(realpath "$1")
BEANSTALKD=$2
MANPAGE=${3:-}
COMPLETIONS=${4:-}
shift $(($# < 4 ? $# : 4))
SELF=$(realpath "${BASH_SOURCE[0]}")
TEST_TIMEOUT=60

# ------------------------------------------------------------------------------------ helpers

# free_port, accepting, start_server, start_server_on, stop_servers, SERVER_PIDS, run_test_functions
. "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

# start_unix_server VAR PATH: a server on a Unix socket.
start_unix_server() {
  local var=$1 path=$2 pid i
  "$BEANSTALKD" -l "unix:$path" </dev/null >/dev/null 2>&1 &
  pid=$!
  SERVER_PIDS+=("$pid")
  for i in $(seq 50); do
    [[ -S "$path" ]] && { printf -v "$var" 'unix:%s' "$path"; return 0; }
    sleep 0.05
  done
  return 1
}

# kill_server PID: SIGKILL, as a crash (a server with -b keeps its jobs for the restart).
kill_server() {
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

# start_fault_proxy VAR UPSTREAM: tests/support's fault proxy ($BEANPOLE_FAULT_PROXY) in front
# of UPSTREAM (HOST:PORT); VAR gets its address. fault_cut PREFIX arms it: the next write of the
# client that starts with PREFIX reaches the server, then the connection is cut before the reply.
start_fault_proxy() {
  local var=$1 upstream=$2 port
  [[ -x "${BEANPOLE_FAULT_PROXY:-}" ]] || fail "no fault proxy: \$BEANPOLE_FAULT_PROXY='${BEANPOLE_FAULT_PROXY:-}'"
  coproc FAULT_PROXY { exec "$BEANPOLE_FAULT_PROXY" "${upstream##*:}"; }
  SERVER_PIDS+=("$FAULT_PROXY_PID")
  read -r -t 10 -u "${FAULT_PROXY[0]}" port || fail "the fault proxy did not start"
  printf -v "$var" '127.0.0.1:%s' "$port"
}
fault_cut() {
  local answer
  echo "cut $1" >&"${FAULT_PROXY[1]}"
  read -r -t 10 -u "${FAULT_PROXY[0]}" answer && [[ $answer == armed ]] || fail "fault proxy: $answer"
}

# wait_lines FILE N [TENTHS]: waits until FILE has at least N lines (default 10 s).
wait_lines() {
  local i
  for ((i = 0; i < ${3:-100}; i++)); do
    [[ -e "$1" ]] && (($(wc -l <"$1") >= $2)) && return 0
    sleep 0.1
  done
  fail "timed out waiting for $2 lines in $1: $(cat "$1" 2>/dev/null)"
}

# process_gone PID: true once PID has ended (within 3 s); a zombie not yet reaped counts as
# ended (it runs no more).
process_gone() {
  local i
  for i in $(seq 30); do
    kill -0 "$1" 2>/dev/null || return 0
    [[ $(ps -o stat= -p "$1" 2>/dev/null) == Z* ]] && return 0
    sleep 0.1
  done
  return 1
}

# elapsed_ms START: milliseconds since START (a `date +%s%N`).
elapsed_ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

# bp ARGS...: beanpole against the shared server.
bp() { "$BP" -a "$S1" "$@"; }

# fail, run, expect_rc, expect_out, expect_err_has, assert_eq, json_check
. "$(dirname "${BASH_SOURCE[0]}")/asserts.sh"

# job_field_at ADDR ID FIELD: one field of stats-job on the server ADDR.
job_field_at() {
  "$BP" -a "$1" --json stats-job "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$3"
}
# job_field ID FIELD: one field of stats-job, from --json.
job_field() {
  bp --json stats-job "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

# A port nothing listens on: a command that tries to connect there fails with exit 3, so
# exit 2 proves the arguments were refused before anything was sent.
dead_addr() { echo "127.0.0.1:$(free_port)"; }

# each_case_exits_2 ADDR CASE...: beanpole -a ADDR with the words of each CASE (%20 stands for a
# space inside a word) exits 2.
each_case_exits_2() {
  local addr=$1 c w
  shift
  for c in "$@"; do
    local -a argv=()
    for w in $c; do argv+=("${w//%20/ }"); done
    run "$BP" -a "$addr" "${argv[@]}"
    expect_rc 2 "$c"
  done
}

all_bytes() { python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)))'; }

# --------------------------------------------------------------------------- help and usage

test_help_lists_every_command() {
  run "$BP" --help
  expect_rc 0
  cp "$T/out" "$T/help"
  local c
  for c in put reserve delete kick kick-job pause-tube peek peek-ready peek-delayed peek-buried \
    stats stats-tube stats-job list-tubes list-tube-used list-tubes-watched top export import \
    release bury touch work move flush exporter console; do
    grep -q "^  $c " "$T/help" || fail "--help does not list $c"
    run "$BP" "$c" --help
    expect_rc 0 "$c --help"
    grep -q "Usage: beanpole $c" "$T/out" || fail "$c --help has no usage line"
    run "$BP" "$c" -h
    expect_rc 0 "$c -h"
  done
  run "$BP" -h
  expect_rc 0
  grep -q "Exit status" "$T/out" || fail "--help does not document exit statuses"
}

test_version() {
  run "$BP" --version
  expect_rc 0
  grep -Eq '^beanpole [0-9]+\.[0-9]+\.[0-9]+$' "$T/out" || fail "version: $(cat "$T/out")"
}

test_usage_errors_exit_2() {
  run "$BP" -a "$(dead_addr)"
  expect_rc 2 "no command"
  run "$BP" -a "$(dead_addr)" no-such-command
  expect_rc 2 "unknown command"
  run "$BP" -a "$(dead_addr)" delete
  expect_rc 2 "missing ID"
  run "$BP" -a "$(dead_addr)" reserve --delete --bury
  expect_rc 2 "--delete with --bury"
  run "$BP" -a "$(dead_addr)" put --lines body
  expect_rc 2 "--lines with a BODY"
  run "$BP" -a "$(dead_addr)" delete 1 2
  expect_rc 2 "extra argument"
  run "$BP" -a "$(dead_addr)" work -w t_w
  expect_rc 2 "work without CMD"
  expect_err_has "missing CMD"
  run "$BP" -a "$(dead_addr)" work -w t_w --
  expect_rc 2 "work with an empty CMD"
}

test_invalid_values_exit_2_nothing_sent() {
  local dead
  dead=$(dead_addr)
  # Control: valid arguments against the dead port try to connect and fail with 3.
  run "$BP" -a "$dead" put -t good -p 4294967295 x
  expect_rc 3 "control"
  local long
  long=$(printf 'a%.0s' $(seq 201))
  local -a cases=(
    "put -t bad%20name x" "put -t -leading x" "put -t $long x" "put -t a*b x"
    "put -p 4294967296 x" "put -p -1 x" "put -p 1.5 x" "put -p abc x" "put -d 99999999999 x"
    "put -r 4294967296 x" "put -p +1 x" "put -p 0x10 x"
    "delete 18446744073709551616" "delete -3" "delete abc" "peek 1e3" "stats-job x"
    "kick 4294967296" "kick 1 -t bad%20name" "kick-job 1.0"
    "pause-tube bad%20name 1" "pause-tube ok 4294967296" "pause-tube ok -1"
    "reserve -w bad%20name" "reserve --wait 4294967296" "reserve --job abc"
    "reserve --pri 4294967296" "reserve --delay -5"
    "work -w bad%20name -- true" "work -w ok -w a*b -- true" "work -- true"
    "work -w ok --concurrency 0 -- true" "work -w ok --concurrency 4294967296 -- true"
    "work -w ok --max-attempts -1 -- true" "work -w ok --backoff x -- true"
    "work -w ok --backoff-max 1.5 -- true" "work -w ok --backoff 10 --backoff-max 5 -- true"
    "work -w ok --grace -1 -- true" "work -w ok --metrics-port 65536 -- true"
    "peek-ready -t bad%20name" "peek-delayed -t (ok)!" "peek-buried -t a%20b"
    "stats-tube bad%20name" "stats-tube -x"
    "export -t bad%20name" "import -t bad%20name /dev/null"
    "top -t bad%20name" "top -i 0" "top -n -1"
  )
  each_case_exits_2 "$dead" "${cases[@]}"
  # The empty tube name, given as its own argument.
  run "$BP" -a "$dead" put -t "" x
  expect_rc 2 "empty tube name"
  run "$BP" -a "$dead" --timeout abc stats
  expect_rc 2 "--timeout abc"
  run "$BP" -a "not:an:address" stats
  expect_rc 2 "invalid address"
  run "$BP" -a "$dead" put -t 'bad name' x
  expect_err_has "invalid tube name"
}

test_release_bury_touch_explain() {
  local c
  for c in release bury touch; do
    run "$BP" -a "$(dead_addr)" "$c" 5
    expect_rc 2 "$c"
    expect_err_has "reserve"
  done
}

# ------------------------------------------------------------------------ connection failures

test_connection_refused_exit_3() {
  run "$BP" -a "$(dead_addr)" stats
  expect_rc 3
  expect_err_has "connect to 127.0.0.1"
  expect_err_has "refused"
  [[ $(wc -l <"$T/err") == 1 ]] || fail "message is not one line"
}

# A fake server that accepts and then answers $1 (python bytes literal) to anything.
fake_server() {
  local reply=$1 port_file=$T/fake_port
  python3 - "$reply" "$port_file" <<'EOF' &
import socket, sys, time, ast
reply = ast.literal_eval(sys.argv[1])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(5)
open(sys.argv[2], "w").write(str(s.getsockname()[1]))
s.settimeout(20)
conn, _ = s.accept()
conn.recv(4096)
if reply: conn.sendall(reply)
time.sleep(5)
EOF
  FAKE_PID=$!
  local i
  for i in $(seq 100); do [[ -s $port_file ]] && break; sleep 0.05; done
  FAKE_ADDR="127.0.0.1:$(cat "$port_file")"
}

test_reply_timeout_exit_3() {
  fake_server "b''"
  run "$BP" -a "$FAKE_ADDR" --timeout 0.5 stats
  kill "$FAKE_PID" 2>/dev/null
  expect_rc 3
  expect_err_has "timeout"
}

test_malformed_reply_exit_3() {
  fake_server "b'HELLO THERE\r\n'"
  run "$BP" -a "$FAKE_ADDR" --timeout 5 stats
  kill "$FAKE_PID" 2>/dev/null
  expect_rc 3
  expect_err_has "protocol"
}

test_unexpected_reply_exit_3() {
  fake_server "b'DELETED\r\n'"
  run "$BP" -a "$FAKE_ADDR" --timeout 5 list-tube-used
  kill "$FAKE_PID" 2>/dev/null
  expect_rc 3
  expect_err_has "protocol"
}

# ------------------------------------------------------------------------------ addressing

test_env_addr() {
  BEANSTALKD_ADDR=$S1 run "$BP" list-tubes
  expect_rc 0
  grep -qx default "$T/out" || fail "list-tubes via \$BEANSTALKD_ADDR"
  # --addr wins over the environment.
  BEANSTALKD_ADDR=$(dead_addr) run "$BP" -a "$S1" list-tube-used
  expect_rc 0
  BEANSTALKD_ADDR=$(dead_addr) run "$BP" list-tube-used
  expect_rc 3 "environment's dead address"
  BEANSTALKD_ADDR="bad:addr:ess" run "$BP" list-tube-used
  expect_rc 2 "invalid \$BEANSTALKD_ADDR"
}

test_unix_socket() {
  local addr
  start_unix_server addr "$T/beanstalkd.sock" || fail "no unix server"
  run "$BP" -a "$addr" put -t unixtube "over a unix socket"
  expect_rc 0
  local id
  id=$(cat "$T/out")
  run "$BP" -a "$addr" peek "$id"
  expect_rc 0
  expect_out "over a unix socket"
  BEANSTALKD_ADDR=$addr run "$BP" list-tubes
  grep -qx unixtube "$T/out" || fail "unix via \$BEANSTALKD_ADDR"
  stop_servers
}

# ------------------------------------------------------------------------------------- put

test_put_argument_and_peek() {
  run bp put -t t_put "hello world"
  expect_rc 0
  grep -Eqx '[0-9]+' "$T/out" || fail "put printed '$(cat "$T/out")'"
  local id
  id=$(cat "$T/out")
  run bp peek "$id"
  expect_out "hello world"
  run bp --json peek "$id"
  json_check "d == {'id': $id, 'body': 'hello world'}" <"$T/out"
}

test_put_binary_stdin_byte_exact() {
  all_bytes >"$T/bytes"
  run bp put -t t_bin <"$T/bytes"
  expect_rc 0
  local id
  id=$(cat "$T/out")
  bp peek "$id" >"$T/peeked" || fail "peek"
  cmp "$T/bytes" "$T/peeked" || fail "peek is not byte-exact"
  # "-" is stdin too; a body ending in newlines and CRLF keeps them.
  printf 'line\r\n\n' | bp put -t t_bin - >"$T/id2" || fail "put -"
  bp peek "$(cat "$T/id2")" | od -c >"$T/od"
  printf 'line\r\n\n' | od -c | cmp - "$T/od" || fail "trailing newlines changed"
  bp reserve -w t_bin --delete >"$T/reserved" || fail "reserve"
  cmp "$T/bytes" "$T/reserved" || fail "reserve is not byte-exact"
  bp --json peek "$(cat "$T/id2")" >"$T/json"
  json_check "d['body'] == 'line\r\n\n'" <"$T/json"
  # Empty body.
  run bp put -t t_bin ""
  expect_rc 0
  run bp peek "$(cat "$T/out")"
  [[ ! -s "$T/out" ]] || fail "empty body came back non-empty"
}

test_put_options() {
  run bp put -t t_opts -p 5 -d 100 -r 7 body
  expect_rc 0
  local id
  id=$(cat "$T/out")
  assert_eq "$(job_field "$id" pri)" 5 "pri"
  assert_eq "$(job_field "$id" delay)" 100 "delay"
  assert_eq "$(job_field "$id" ttr)" 7 "ttr"
  assert_eq "$(job_field "$id" state)" delayed "state"
  run bp put -t t_opts body
  id=$(cat "$T/out")
  assert_eq "$(job_field "$id" pri)" 1024 "default pri"
  assert_eq "$(job_field "$id" ttr)" 60 "default ttr"
  assert_eq "$(job_field "$id" delay)" 0 "default delay"
  run bp --json put -t t_opts -p 4294967295 max
  expect_rc 0
  json_check "list(d) == ['id'] and isinstance(d['id'], int)" <"$T/out"
}

test_put_lines() {
  printf 'first\n\nthird\r\nlast-without-newline' | bp put -t t_lines --lines >"$T/ids" ||
    fail "put --lines"
  [[ $(wc -l <"$T/ids") == 4 ]] || fail "expected 4 ids: $(cat "$T/ids")"
  local -a ids
  mapfile -t ids <"$T/ids"
  assert_eq "$(bp peek "${ids[0]}")" first
  assert_eq "$(bp peek "${ids[1]}" | wc -c)" 0 "empty line is an empty job"
  assert_eq "$(bp peek "${ids[2]}" | od -An -c | tr -s ' ')" " t h i r d \r" "CR kept"
  assert_eq "$(bp peek "${ids[3]}")" last-without-newline
  ((ids[1] == ids[0] + 1 && ids[3] == ids[2] + 1)) || fail "ids not in order: ${ids[*]}"
  seq 1 1500 | bp --json put -t t_lines2 --lines >"$T/json" 2>"$T/err" || fail "put --lines --json"
  [[ ! -s "$T/err" ]] || fail "stderr when every line was put: $(cat "$T/err")"
  # One object per input line, in order, with its line number and its id.
  python3 - "$T/json" <<'EOF' || fail "put --lines --json: $(head -3 "$T/json")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["line"] for r in rows] == list(range(1, 1501)), "line numbers"
assert all(r["outcome"] == "put" and isinstance(r["id"], int) for r in rows), rows[:3]
ids = [r["id"] for r in rows]
assert ids == sorted(ids) and len(set(ids)) == 1500
EOF
  run bp --json stats-tube t_lines2
  json_check "d['current-jobs-ready'] == 1500" <"$T/out"
  run bp peek-ready -t t_lines2
  expect_out 1
}

test_put_job_too_big_exit_1() {
  local small
  start_server small -z 10 || fail "server"
  run "$BP" -a "$small" put 12345678901
  expect_rc 1
  expect_err_has "JOB_TOO_BIG"
  printf 'ok\n12345678901\nfine\n' | "$BP" -a "$small" put --lines >"$T/out" 2>"$T/err"
  RC=$?
  expect_rc 1 "put --lines with a job too big"
  expect_err_has "refused (JOB_TOO_BIG): line 2"
  # One output line per input line: the refused line's is empty, so the ids line up.
  local -a got
  mapfile -t got <"$T/out"
  ((${#got[@]} == 3)) || fail "expected 3 lines, one per input line: $(cat -A "$T/out")"
  [[ ${got[0]} =~ ^[0-9]+$ && -z ${got[1]} && ${got[2]} =~ ^[0-9]+$ ]] ||
    fail "ids do not line up with the input: $(cat -A "$T/out")"
  assert_eq "$("$BP" -a "$small" peek "${got[2]}")" fine "line 3's id is line 3's job"
  printf '12345678901\nok\n1234567890123\n' | "$BP" -a "$small" --json put --lines >"$T/out" 2>"$T/err"
  RC=$?
  expect_rc 1
  expect_err_has "refused (JOB_TOO_BIG): lines 1, 3 (2)"
  python3 - "$T/out" <<'EOF' || fail "--json: $(cat "$T/out")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [(r["line"], r["outcome"]) for r in rows] == [(1, "refused"), (2, "put"), (3, "refused")], rows
assert rows[0]["error"] == "JOB_TOO_BIG" and isinstance(rows[1]["id"], int) and "id" not in rows[0]
EOF
  stop_servers
}

test_put_draining_exit_1() {
  local drain pid
  start_server drain || fail "server"
  pid=${SERVER_PIDS[-1]}
  kill -USR1 "$pid"
  sleep 0.2
  run "$BP" -a "$drain" put x
  expect_rc 1
  expect_err_has "DRAINING"
  stop_servers
}

# The connection is cut (tests/support's fault proxy) right after a batch of puts reached the
# server: those lines are "unknown", never sent again; put --lines reconnects and goes on with
# the next lines; the summary says which lines are unknown; the test reconciles the server.
test_put_lines_reconnects_after_a_cut() {
  local srv proxy pid
  start_server srv || fail "server"
  start_fault_proxy proxy "$srv"
  mkfifo "$T/in"
  "$BP" -a "$proxy" --json put -t t_cut --lines <"$T/in" >"$T/out" 2>"$T/err" &
  pid=$!
  exec 4>"$T/in"
  printf 'a1\na2\na3\n' >&4
  wait_lines "$T/out" 3
  fault_cut "put "
  printf 'b4\nb5\nb6\n' >&4
  wait_lines "$T/out" 6
  printf 'c7\nc8\nc9\n' >&4
  wait_lines "$T/out" 9
  exec 4>&-
  wait_exit "$pid" 100
  expect_rc 3 "lines with an unknown outcome"
  # The write that was cut carried line 4 (and maybe 5 and 6): those are unknown; the lines
  # not yet written when it was cut went on the new connection.
  python3 - "$T/out" <<'EOF' >"$T/unknown" || fail "--json: $(cat "$T/out")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["line"] for r in rows] == list(range(1, 10)), rows
outcomes = [r["outcome"] for r in rows]
unknown = [r["line"] for r in rows if r["outcome"] == "unknown"]
assert unknown and unknown == list(range(4, 4 + len(unknown))) and len(unknown) <= 3, outcomes
assert all(o == "put" for i, o in enumerate(outcomes, 1) if i not in unknown), outcomes
assert all("id" not in r for r in rows if r["outcome"] == "unknown")
print(len(unknown))
EOF
  local n
  n=$(cat "$T/unknown")
  if ((n == 1)); then
    expect_err_has "outcome unknown: line 4$"
  else
    expect_err_has "outcome unknown: lines 4-$((3 + n)) ($n)"
  fi
  expect_err_has "reconnected"
  if grep -q "not sent" "$T/err"; then fail "nothing was left unsent: $(cat "$T/err")"; fi
  # Reconciled: the unknown puts did reach the server (the cut came after them), once each;
  # every line is there exactly once.
  local i
  for i in $(seq 9); do
    "$BP" -a "$srv" reserve -w t_cut --wait 0 --delete >>"$T/bodies" || fail "only $i jobs"
    echo >>"$T/bodies"
  done
  run "$BP" -a "$srv" reserve -w t_cut --wait 0
  expect_rc 1 "a line was put twice"
  assert_eq "$(sort "$T/bodies" | tr '\n' ' ')" "a1 a2 a3 b4 b5 b6 c7 c8 c9 " "bodies"
  stop_servers
}

# The server is gone for good: put --lines retries (--retries, within --timeout), then stops
# reading and says which lines were not sent and how to resume.
test_put_lines_server_gone_says_where_to_resume() {
  local srv spid pid start
  start_server srv || fail "server"
  spid=${SERVER_PIDS[-1]}
  mkfifo "$T/in"
  "$BP" -a "$srv" --timeout 2 --json put -t t_gone --lines --retries 2 <"$T/in" >"$T/out" \
    2>"$T/err" &
  pid=$!
  exec 4>"$T/in"
  printf '1\n2\n3\n' >&4
  wait_lines "$T/out" 3
  kill_server "$spid"
  sleep 0.3
  start=$(date +%s%N)
  printf '4\n' >&4
  wait_exit "$pid" 100
  exec 4>&-
  expect_rc 3 "lines not sent"
  (($(elapsed_ms "$start") < 6000)) || fail "retrying was not bounded"
  python3 - "$T/out" <<'EOF' >"$T/line4" || fail "--json: $(cat "$T/out")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["line"] for r in rows] == [1, 2, 3, 4], rows
assert [r["outcome"] for r in rows[:3]] == ["put"] * 3
assert rows[3]["outcome"] in ("unknown", "not_sent"), rows[3]
print(rows[3]["outcome"])
EOF
  expect_err_has "every line from 5 on (reading stopped)"
  # Line 4 was either written (unknown: never to be sent blindly) or not (to send again).
  if [[ $(cat "$T/line4") == unknown ]]; then
    expect_err_has "outcome unknown: line 4"
    expect_err_has "to resume: tail -n +5 INPUT"
  else
    expect_err_has "not sent: line 4, and every line from 5 on"
    expect_err_has "to resume: tail -n +4 INPUT"
  fi
  stop_servers
}

# ---------------------------------------------------------------------------------- reserve

test_reserve_default_releases() {
  local id
  id=$(bp put -t t_res -p 9 "job") || fail "put"
  run bp reserve -w t_res
  expect_rc 0
  expect_out job
  assert_eq "$(job_field "$id" state)" ready "released when reserve ends"
  assert_eq "$(job_field "$id" pri)" 9 "keeps its priority"
  assert_eq "$(job_field "$id" releases)" 1 "released explicitly"
  run bp reserve -w t_res --release --pri 3 --delay 50
  expect_rc 0
  assert_eq "$(job_field "$id" state)" delayed "--delay"
  assert_eq "$(job_field "$id" pri)" 3 "--pri"
}

test_reserve_delete_and_bury() {
  local id
  id=$(bp put -t t_rdb "a") || fail "put"
  run bp reserve -w t_rdb --bury
  expect_rc 0
  expect_out a
  assert_eq "$(job_field "$id" state)" buried "--bury"
  run bp reserve --job "$id" --delete
  expect_rc 0
  expect_out a
  run bp stats-job "$id"
  expect_rc 1 "deleted"
  expect_err_has NOT_FOUND
}

test_reserve_json() {
  local id
  id=$(bp put -t t_rjson "héllo \"quoted\" \\ new
line") || fail "put"
  run bp --json reserve -w t_rjson --delete
  expect_rc 0
  json_check "list(d) == ['id', 'tube', 'body'] and d['id'] == $id and d['tube'] == 't_rjson' and d['body'] == 'héllo \"quoted\" \\\\ new\nline'" <"$T/out"
  all_bytes | bp put -t t_rjson >/dev/null
  run bp --json reserve -w t_rjson --delete
  json_check "'body' not in d and __import__('base64').b64decode(d['body_base64']) == bytes(range(256))" <"$T/out"
  # Invalid UTF-8 that looks almost right: an overlong '/' and a lone surrogate.
  printf '\xc0\xaf' | bp put -t t_rjson >/dev/null
  run bp --json reserve -w t_rjson --delete
  json_check "'body_base64' in d" <"$T/out"
  printf '\xed\xa0\x80' | bp put -t t_rjson >/dev/null
  run bp --json reserve -w t_rjson --delete
  json_check "'body_base64' in d" <"$T/out"
}

test_reserve_wait_timed_out_exit_1() {
  run bp reserve -w t_empty --wait 0
  expect_rc 1
  expect_err_has TIMED_OUT
  local start end
  start=$(date +%s%N)
  run bp reserve -w t_empty --wait 1
  end=$(date +%s%N)
  expect_rc 1
  (((end - start) / 1000000 >= 900)) || fail "--wait 1 returned too early"
}

test_reserve_waits_without_timeout() {
  # --timeout bounds replies, not a reserve's deliberate wait.
  ("$BP" -a "$S1" --timeout 1 reserve -w t_late --delete >"$T/late" 2>&1; echo $? >"$T/late_rc") &
  sleep 2
  bp put -t t_late "late job" >/dev/null
  local i
  for i in $(seq 50); do [[ -s "$T/late_rc" ]] && break; sleep 0.1; done
  assert_eq "$(cat "$T/late_rc" 2>/dev/null)" 0 "reserve exit"
  assert_eq "$(cat "$T/late")" "late job"
}

test_reserve_watch_several_tubes() {
  bp put -t t_w2 "from w2" >/dev/null
  run bp reserve -w t_w1 -w t_w2 --wait 1 --delete
  expect_rc 0
  expect_out "from w2"
  # Watching only other tubes leaves "default" out.
  bp put "in default" >/dev/null
  run bp reserve -w t_w1 --wait 0
  expect_rc 1 "default must not be watched"
  bp reserve --wait 0 --delete >/dev/null
}

test_reserve_job_by_id() {
  local id
  id=$(bp put -t t_rjob -d 1000 "delayed") || fail "put"
  run bp reserve --job "$id"
  expect_rc 0
  expect_out delayed
  run bp reserve --job 999999999
  expect_rc 1
  expect_err_has NOT_FOUND
  run bp reserve --job 1 --wait 1
  expect_rc 2 "--job excludes --wait"
}

test_reserve_exec_success() {
  local id
  id=$(bp put -t t_exec "exec body") || fail "put"
  run bp reserve -w t_exec --exec 'printf "%s|%s|" "$BEANPOLE_JOB_ID" "$BEANPOLE_JOB_TUBE"; cat'
  expect_rc 0
  expect_out "$id|t_exec|exec body"
  run bp stats-job "$id"
  expect_rc 1 "deleted after exit 0"
  all_bytes | bp put -t t_exec >/dev/null
  bp reserve -w t_exec --exec "cat > '$T/stdin_bytes'" || fail "exec"
  all_bytes | cmp - "$T/stdin_bytes" || fail "CMD's stdin is not byte-exact"
  id=$(bp put -t t_exec "x")
  run bp --json reserve -w t_exec --exec 'true'
  json_check "d == {'id': $id, 'tube': 't_exec', 'exit_status': 0, 'action': 'deleted'}" <"$T/out"
}

test_reserve_exec_failure_releases() {
  local id
  id=$(bp put -t t_execf -p 17 "fails") || fail "put"
  run bp reserve -w t_execf --exec 'cat >/dev/null; exit 3'
  expect_rc 4
  expect_err_has "status 3"
  assert_eq "$(job_field "$id" state)" ready "released"
  assert_eq "$(job_field "$id" pri)" 17 "priority kept"
  run bp --json reserve -w t_execf --delay 30 --exec 'exit 1'
  expect_rc 4
  json_check "d['action'] == 'released' and d['exit_status'] == 1" <"$T/out"
  assert_eq "$(job_field "$id" state)" delayed "--delay applies"
  # A command killed by a signal counts as failed too.
  bp kick-job "$id"
  run bp reserve -w t_execf --exec 'kill -TERM $$'
  expect_rc 4
  expect_err_has "status 143"
}

test_reserve_exec_touches_past_ttr() {
  local id
  id=$(bp put -t t_touch -r 1 "slow") || fail "put"
  run bp reserve -w t_touch --exec "sleep 3; '$BP' -a '$S1' --json stats-job \$BEANPOLE_JOB_ID"
  expect_rc 0
  json_check "d['state'] == 'reserved' and d['timeouts'] == 0" <"$T/out"
  run bp stats-job "$id"
  expect_rc 1 "deleted at the end"
}

test_reserve_stdout_failure_keeps_job() {
  local id
  id=$(bp put -t t_full "keep me") || fail "put"
  run bp reserve -w t_full --delete
  # Redo it with a stdout that cannot be written: the job must not be deleted.
  id=$(bp put -t t_full "keep me") || fail "put"
  bp reserve -w t_full --delete >/dev/full 2>"$T/err"
  RC=$?
  expect_rc 3 "write to /dev/full"
  expect_err_has "stdout"
  assert_eq "$(job_field "$id" state)" ready "job kept"
}

# SIGTERM to beanpole while CMD runs: passed on to CMD (and to what it started), the job settled
# once CMD is over, then beanpole ends by the signal. No CMD left running on a released job.
test_reserve_exec_passes_sigterm_on() {
  local id pid
  id=$(bp put -t t_execsig "x") || fail "put"
  "$BP" -a "$S1" reserve -w t_execsig --exec "trap 'echo TERM >\"$T/got\"; exit 7' TERM
    sleep 30 & echo \$! >\"$T/sleeper\"; wait" >"$T/out" 2>"$T/err" &
  pid=$!
  wait_file "$T/sleeper"
  kill -TERM "$pid"
  wait_exit "$pid" 50
  expect_rc 143 "ended by SIGTERM"
  assert_eq "$(cat "$T/got" 2>/dev/null)" TERM "CMD got the signal"
  expect_err_has "job $id released"
  process_gone "$(cat "$T/sleeper")" || fail "what CMD started still runs"
  assert_eq "$(job_field "$id" state)" ready "released"
  bp delete "$id" >/dev/null
  # A CMD that ignores SIGTERM: beanpole waits for it (touching the job); a second signal kills it.
  id=$(bp put -t t_execsig2 "y") || fail "put"
  "$BP" -a "$S1" reserve -w t_execsig2 --exec "trap '' TERM; echo \$\$ >\"$T/stubborn\"
    while :; do sleep 0.1; done" >"$T/out" 2>"$T/err" &
  pid=$!
  wait_file "$T/stubborn"
  kill -TERM "$pid"
  sleep 0.5
  kill -0 "$pid" 2>/dev/null || fail "beanpole ended while CMD still ran"
  assert_eq "$(job_field "$id" state)" reserved "held while CMD runs"
  kill -TERM "$pid"
  wait_exit "$pid" 50
  expect_rc 143
  process_gone "$(cat "$T/stubborn")" || fail "CMD survived the second signal"
  assert_eq "$(job_field "$id" state)" ready "released"
  bp delete "$id" >/dev/null
}

# ------------------------------------------------------------------------------------- work

# wait_file PATH [TENTHS]: waits until PATH exists (default 10 s).
wait_file() {
  local i
  for ((i = 0; i < ${2:-100}; i++)); do
    [[ -e "$1" ]] && return 0
    sleep 0.1
  done
  fail "timed out waiting for $1"
}

# work ARGS... &: beanpole work against the shared server, as a process of its own (not a
# function, so that $! is beanpole's pid); the test's exit trap stops it if a check fails first.
work() { exec "$BP" -a "$S1" work "$@"; }
WORK_PIDS=()
stop_stray_workers() {
  local pid
  for pid in "${WORK_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
}

# stop_work PID: SIGTERM, then the exit status of the worker in $RC.
stop_work() {
  kill -TERM "$1"
  wait "$1"
  RC=$?
}

# tube_field TUBE FIELD: one field of stats-tube.
tube_field() {
  bp --json stats-tube "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

# wait_reserving TUBE: waits (10 s) until a reserve waits on TUBE. A worker sets up its signal
# handling before it connects, so from then on SIGTERM is a graceful stop, not a kill; a fixed
# sleep is not enough on a loaded machine.
wait_reserving() {
  local i
  for ((i = 0; i < 100; i++)); do
    (($(tube_field "$1" current-waiting 2>/dev/null || echo 0) >= 1)) && return 0
    sleep 0.1
  done
  fail "no reserve waiting on $1"
}

# wait_deleted ID: waits (10 s) until job ID is gone, its delete sent once CMD exited.
wait_deleted() {
  local i
  for ((i = 0; i < 100; i++)); do
    bp stats-job "$1" >/dev/null 2>&1 || return 0
    sleep 0.1
  done
  fail "job $1 still there"
}

# A job torn by a server crash (killed, the job zeroed in its binlog, restarted on it: what
# beanstalkd 1.12 replays after a SIGKILL): reserve names it and how to delete it, and work buries
# it, says so, and runs the next job instead of getting the torn one back forever.
test_torn_job_reserve_and_work() {
  local srv port pid id good
  mkdir "$T/binlog" "$T/o"
  start_server srv -b "$T/binlog" || fail "server"
  port=${srv##*:}
  id=$("$BP" -a "$srv" put -t torn -p 5 "to be torn by the crash") || fail "put"
  good=$("$BP" -a "$srv" put -t torn -p 100 "good") || fail "put"
  kill_server "${SERVER_PIDS[-1]}"
  tear_job_in_binlog "$T/binlog" "to be torn by the crash"
  start_server_on srv "$port" -b "$T/binlog" || fail "restart"
  run "$BP" -a "$srv" reserve -w torn --delete
  expect_rc 1 "reserve of a torn job"
  expect_err_has "job $id is corrupt"
  expect_err_has "beanpole delete $id"
  assert_eq "$(job_field_at "$srv" "$id" state)" ready "the torn job, back"

  "$BP" -a "$srv" work -w torn -- sh -c 'cat >"$1/$BEANPOLE_JOB_ID"' sh "$T/o" >"$T/out" \
    2>"$T/err" &
  pid=$!
  WORK_PIDS+=("$pid")
  wait_file "$T/o/$good"
  stop_work "$pid"
  expect_rc 0 "work after SIGTERM"
  expect_err_has "work: job $id (torn) is corrupt"
  expect_err_has "beanpole delete $id"
  [[ ! -e "$T/o/$id" ]] || fail "CMD ran on the torn job"
  assert_eq "$(cat "$T/o/$good")" good "the good job"
  assert_eq "$(job_field_at "$srv" "$id" state)" buried "the torn job"
  assert_eq "$(job_field_at "$srv" "$id" pri)" 5 "its priority"
  assert_eq "$(job_field_at "$srv" "$id" reserves)" 2 "reserves (reserve, then work)"
  run "$BP" -a "$srv" delete "$id"
  expect_rc 0 "delete the torn job"
  stop_servers
}

test_work_runs_cmd_per_job() {
  local id1 id2 pid
  id1=$(all_bytes | bp put -t t_work) || fail "put"
  id2=$(bp put -t t_work "second") || fail "put"
  mkdir "$T/o"
  work -w t_work -- sh -c 'cat >"$1/$BEANPOLE_JOB_ID.body"
    printf "%s %s" "$BEANPOLE_JOB_ID" "$BEANPOLE_TUBE" >"$1/$BEANPOLE_JOB_ID.env"' sh "$T/o" \
    >"$T/out" 2>"$T/err" &
  pid=$!
  WORK_PIDS+=("$pid")
  wait_file "$T/o/$id1.env"
  wait_file "$T/o/$id2.env"
  wait_deleted "$id1"
  wait_deleted "$id2"
  stop_work "$pid"
  expect_rc 0 "work after SIGTERM"
  all_bytes | cmp - "$T/o/$id1.body" || fail "binary body differs"
  assert_eq "$(cat "$T/o/$id2.body")" "second" "text body"
  assert_eq "$(cat "$T/o/$id1.env")" "$id1 t_work" "environment"
  run bp stats-job "$id1"
  expect_rc 1 "job deleted"
  run bp stats-job "$id2"
  expect_rc 1 "job deleted"
  # The counters, on stderr once stopped.
  work -w t_work -- true >"$T/out" 2>"$T/err" &
  pid=$!
  WORK_PIDS+=("$pid")
  wait_reserving t_work
  stop_work "$pid"
  expect_rc 0
  grep -Eq '^tube +reserved +succeeded' "$T/err" || fail "no counters: $(cat "$T/err")"
}

test_work_failure_retries_then_buries() {
  local id pid
  id=$(bp put -t t_workf "fails") || fail "put"
  # A 3 s backoff: long enough to see the job delayed even when each check is slow.
  work -w t_workf --backoff 3 --max-attempts 2 -- sh -c 'cat >/dev/null; exit 3' \
    >"$T/out" 2>"$T/err" &
  pid=$!
  WORK_PIDS+=("$pid")
  local i state=""
  for i in $(seq 100); do
    state=$(job_field "$id" state)
    [[ "$state" != ready && "$state" != reserved ]] && break
    sleep 0.1
  done
  assert_eq "$state" delayed "released with a delay after the first failure"
  assert_eq "$(job_field "$id" releases)" 1 "one release"
  for i in $(seq 100); do
    state=$(job_field "$id" state)
    [[ "$state" == buried ]] && break
    sleep 0.1
  done
  assert_eq "$state" buried "buried after --max-attempts"
  assert_eq "$(job_field "$id" reserves)" 2 "reserves"
  run bp peek-buried -t t_workf
  expect_out "fails"
  stop_work "$pid"
  expect_rc 0
  grep -Eq '^t_workf +2 +0 +2 +0 +1 +1 ' "$T/err" || fail "counters: $(cat "$T/err")"
  # A CMD that cannot be started fails the job, and says why.
  id=$(bp put -t t_workn "x") || fail "put"
  work -w t_workn --max-attempts 1 -- "$T/no-such-command" >"$T/out" 2>"$T/err" &
  pid=$!
  WORK_PIDS+=("$pid")
  for i in $(seq 100); do
    [[ "$(job_field "$id" state)" == buried ]] && break
    sleep 0.1
  done
  stop_work "$pid"
  expect_rc 0
  assert_eq "$(job_field "$id" state)" buried "unstartable CMD"
  expect_err_has "cannot run"
}

test_work_sigterm_lets_cmd_finish() {
  local id pid
  id=$(bp put -t t_workt "long") || fail "put"
  work -w t_workt -- sh -c 'touch "$1/started"; sleep 2; touch "$1/finished"' sh "$T" \
    >"$T/out" 2>"$T/err" &
  pid=$!
  WORK_PIDS+=("$pid")
  wait_file "$T/started"
  stop_work "$pid"
  expect_rc 0 "graceful stop"
  [[ -e "$T/finished" ]] || fail "CMD did not finish"
  run bp stats-job "$id"
  expect_rc 1 "job deleted after a graceful stop"
  # Past --grace, the job is released and CMD terminated.
  rm -f "$T/started" "$T/finished"
  id=$(bp put -t t_workt "longer") || fail "put"
  work -w t_workt --grace 1 -- sh -c 'touch "$1/started"; sleep 10; touch "$1/finished"' \
    sh "$T" >"$T/out" 2>"$T/err" &
  pid=$!
  WORK_PIDS+=("$pid")
  wait_file "$T/started"
  local start=$SECONDS
  stop_work "$pid"
  expect_rc 0 "stop past the grace period"
  ((SECONDS - start < 6)) || fail "the grace period was not enforced"
  assert_eq "$(job_field "$id" state)" ready "released at the end of the grace period"
  sleep 0.2
  [[ ! -e "$T/finished" ]] || fail "CMD was not terminated"
}

test_work_concurrency() {
  local pid id1 id2
  id1=$(bp put -t t_workc "a") && id2=$(bp put -t t_workc "b") || fail "put"
  mkdir "$T/c"
  # Each CMD succeeds only if it sees the other one running at the same time.
  work -w t_workc --concurrency 2 -- sh -c 'touch "$1/$BEANPOLE_JOB_ID"
    for i in $(seq 50); do
      [ "$(ls "$1" | wc -l)" -ge 2 ] && { touch "$1.$BEANPOLE_JOB_ID.ok"; exit 0; }
      sleep 0.1
    done
    exit 1' sh "$T/c" >"$T/out" 2>"$T/err" &
  pid=$!
  WORK_PIDS+=("$pid")
  local i
  for i in $(seq 50); do
    (($(ls "$T" | grep -c '^c\..*\.ok$') == 2)) && break
    sleep 0.1
  done
  wait_deleted "$id1"
  wait_deleted "$id2"
  stop_work "$pid"
  expect_rc 0
  assert_eq "$(ls "$T" | grep -c '^c\..*\.ok$')" 2 "two commands at once"
  run bp stats-job "$id1"
  expect_rc 1 "first job deleted"
  run bp stats-job "$id2"
  expect_rc 1 "second job deleted"
}

test_work_keeps_job_past_ttr() {
  local id pid
  id=$(bp put -t t_workr -r 1 "slow") || fail "put"
  work -w t_workr -- sh -c 'echo run >>"$1/runs"; sleep 3
    "$2" -a "$3" --json stats-job "$BEANPOLE_JOB_ID" >"$1/stats"; touch "$1/done"' \
    sh "$T" "$BP" "$S1" >"$T/out" 2>"$T/err" &
  pid=$!
  WORK_PIDS+=("$pid")
  wait_file "$T/done"
  wait_deleted "$id"
  stop_work "$pid"
  expect_rc 0
  json_check "d['reserves'] == 1 and d['timeouts'] == 0 and d['state'] == 'reserved'" <"$T/stats"
  assert_eq "$(wc -l <"$T/runs")" 1 "CMD ran once"
  run bp stats-job "$id"
  expect_rc 1 "job deleted"
}

# work_until_delete_owed SERVER_VAR SERVER_PID_VAR WORK_ARGS...: a server with a binlog and a
# worker (its pid in $WPID) whose CMD finished while the server was down: its delete is owed.
work_until_delete_owed() {
  local -n srv_ref=$1 spid_ref=$2
  shift 2
  mkdir -p "$T/binlog"
  start_server srv_ref -b "$T/binlog" || fail "server"
  spid_ref=${SERVER_PIDS[-1]}
  OWED_ID=$("$BP" -a "$srv_ref" put -t t_owed "owed") || fail "put"
  "$BP" -a "$srv_ref" work -w t_owed "$@" -- sh -c 'touch "$1/started"
    while [ ! -e "$1/go" ]; do sleep 0.05; done' sh "$T" >"$T/out" 2>"$T/err" &
  WPID=$!
  WORK_PIDS+=("$WPID")
  wait_file "$T/started"
  kill_server "$spid_ref"
  sleep 0.5        # the worker sees its connections drop
  touch "$T/go"    # CMD exits 0: the job's delete is owed, with no server to take it
  sleep 0.5
}

test_work_stop_is_bounded_by_grace_while_the_server_is_down() {
  local srv spid start
  work_until_delete_owed srv spid --grace 2
  start=$(date +%s%N)
  kill -TERM "$WPID"
  wait_exit "$WPID" 150
  expect_rc 0
  (($(elapsed_ms "$start") < 3500)) || fail "the stop took $(elapsed_ms "$start") ms: past --grace 2"
  expect_err_has "job $OWED_ID (t_owed): delete not answered before the stop"
  # The server gives the job back: restarted with its binlog, it has the job, ready.
  start_server_on srv "${srv##*:}" -b "$T/binlog" || fail "restart"
  assert_eq "$(job_field_at "$srv" "$OWED_ID" state)" ready "the job is back"
  stop_servers
}

test_work_second_signal_stops_at_once_while_the_server_is_down() {
  local srv spid start
  work_until_delete_owed srv spid --grace 60
  kill -TERM "$WPID"
  sleep 0.5
  kill -0 "$WPID" 2>/dev/null || fail "the first signal may wait for the server (grace 60 s)"
  start=$(date +%s%N)
  kill -TERM "$WPID"
  wait_exit "$WPID" 100
  expect_rc 0
  (($(elapsed_ms "$start") < 1500)) || fail "the second signal took $(elapsed_ms "$start") ms"
  expect_err_has "delete not answered before the stop"
  stop_servers
}

# A server not up yet: work waits for it (logging so), with the reconnect backoff, then works.
test_work_waits_for_a_server_not_up_yet() {
  local port srv pid
  port=$(free_port)
  "$BP" -a "127.0.0.1:$port" work -w t_late -- sh -c 'cat >"$1/body"' sh "$T" >"$T/out" \
    2>"$T/err" &
  pid=$!
  WORK_PIDS+=("$pid")
  sleep 1.5
  kill -0 "$pid" 2>/dev/null || { wait "$pid"; fail "work exited ($?) without a server: $(cat "$T/err")"; }
  expect_err_has "waiting for the server at 127.0.0.1:$port (Connection refused); retry 1 in"
  start_server_on srv "$port" || fail "server"
  "$BP" -a "$srv" put -t t_late "came late" >/dev/null || fail "put"
  wait_file "$T/body" 150
  stop_work "$pid"
  expect_rc 0
  expect_err_has "connected to 127.0.0.1:$port"
  assert_eq "$(cat "$T/body")" "came late" "the job ran"
  stop_servers
}

# --concurrency has a maximum (usage error past it), and a system that cannot give the threads
# is a clear error, not an abort.
test_work_concurrency_is_bounded() {
  run "$BP" -a "$(dead_addr)" work -w t_cc --concurrency 50000 -- true
  expect_rc 2 "--concurrency 50000"
  expect_err_has "exceeds the maximum, 1000"
  run "$BP" -a "$(dead_addr)" work -w t_cc --concurrency 1001 -- true
  expect_rc 2 "--concurrency 1001"
  "$BP" --help >/dev/null
  "$BP" work --help | grep -q "at most 1000" || fail "--help does not give the maximum"
  if ldd "$BP" 2>/dev/null | grep -q 'lib[at]san'; then
    echo "    (sanitized build: the address-space limit part is skipped)" >&2
    return 0
  fi
  # 1000 threads' stacks do not fit in 600 MB of address space.
  (ulimit -v 600000 && exec "$BP" -a "$S1" work -w t_cc --concurrency 1000 -- true) \
    >"$T/out" 2>"$T/err"
  RC=$?
  expect_rc 3 "threads refused"
  expect_err_has "cannot create 1000 handler threads"
}

# ---------------------------------------------------------------------- other job commands

test_delete() {
  local id
  id=$(bp put -t t_del x) || fail "put"
  run bp delete "$id"
  expect_rc 0
  expect_out ""
  run bp delete "$id"
  expect_rc 1
  expect_err_has "delete $id: NOT_FOUND"
  id=$(bp put -t t_del x)
  run bp --json delete "$id"
  json_check "d == {'id': $id, 'deleted': True}" <"$T/out"
}

test_kick_and_kick_job() {
  local a b
  a=$(bp put -t t_kick a) && b=$(bp put -t t_kick b) || fail "put"
  bp reserve -w t_kick --bury >/dev/null && bp reserve -w t_kick --bury >/dev/null
  run bp kick 1 -t t_kick
  expect_rc 0
  expect_out 1
  run bp --json kick 10 -t t_kick
  json_check "d == {'tube': 't_kick', 'kicked': 1}" <"$T/out"
  run bp kick 10 -t t_kick
  expect_out 0
  bp reserve --job "$a" --bury >/dev/null
  run bp kick-job "$a"
  expect_rc 0
  assert_eq "$(job_field "$a" state)" ready
  run bp kick-job "$a"
  expect_rc 1 "not buried any more"
  expect_err_has NOT_FOUND
  bp reserve --job "$b" --bury >/dev/null
  run bp --json kick-job "$b"
  json_check "d == {'id': $b, 'kicked': True}" <"$T/out"
  # Delayed jobs are kicked when nothing is buried.
  local c
  c=$(bp put -t t_kick -d 500 c)
  run bp kick 5 -t t_kick
  expect_out 1
  assert_eq "$(job_field "$c" state)" ready
}

test_pause_tube() {
  bp put -t t_pause x >/dev/null
  run bp pause-tube t_pause 60
  expect_rc 0
  run bp --json stats-tube t_pause
  json_check "d['pause'] == 60 and d['pause-time-left'] > 0" <"$T/out"
  run bp reserve -w t_pause --wait 0
  expect_rc 1 "paused tube"
  run bp --json pause-tube t_pause 0
  json_check "d == {'tube': 't_pause', 'paused': 0}" <"$T/out"
  run bp pause-tube t_no_such_tube 5
  expect_rc 1
  expect_err_has NOT_FOUND
}

test_peek_variants() {
  local r d b
  r=$(bp put -t t_peek ready) || fail "put"
  d=$(bp put -t t_peek -d 500 delayed)
  b=$(bp put -t t_peek buried)
  bp reserve --job "$b" --bury >/dev/null
  run bp peek-ready -t t_peek
  expect_out ready
  run bp peek-delayed -t t_peek
  expect_out delayed
  run bp peek-buried -t t_peek
  expect_out buried
  run bp --json peek-delayed -t t_peek
  json_check "d == {'id': $d, 'body': 'delayed'}" <"$T/out"
  run bp peek-ready -t t_peek_empty
  expect_rc 1
  expect_err_has NOT_FOUND
  run bp peek-buried
  expect_rc 1 "nothing buried in default"
  run bp peek 999999999
  expect_rc 1
  expect_err_has NOT_FOUND
}

# ------------------------------------------------------------------------------ inspecting

test_stats() {
  run bp stats
  expect_rc 0
  grep -q '^version: ' "$T/out" || fail "no version"
  grep -q '^current-jobs-ready: [0-9]*$' "$T/out" || fail "no current-jobs-ready"
  grep -q '^os: ' "$T/out" || fail "no os"
  run bp --json stats
  json_check "isinstance(d['current-jobs-ready'], int) and isinstance(d['pid'], int) and isinstance(d['version'], str) and isinstance(d['uptime'], int)" <"$T/out"
  # The text and JSON forms carry the same keys in the same order.
  bp stats | cut -d: -f1 >"$T/keys_text"
  bp --json stats | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin, object_pairs_hook=lambda p: dict(p)).keys()))' >"$T/keys_json"
  cmp -s "$T/keys_text" "$T/keys_json" || fail "text and JSON keys differ"
}

test_stats_tube_and_job() {
  local id
  id=$(bp put -t t_stats -p 3 x) || fail "put"
  run bp stats-tube t_stats
  expect_rc 0
  grep -qx 'name: t_stats' "$T/out" || fail "name"
  grep -qx 'current-jobs-urgent: 1' "$T/out" || fail "urgent"
  run bp --json stats-tube t_stats
  json_check "d['name'] == 't_stats' and d['current-jobs-ready'] == 1 and d['total-jobs'] == 1" <"$T/out"
  run bp stats-job "$id"
  grep -qx "id: $id" "$T/out" || fail "id"
  grep -qx 'tube: t_stats' "$T/out" || fail "tube"
  run bp --json stats-job "$id"
  json_check "d['id'] == $id and d['tube'] == 't_stats' and d['pri'] == 3 and d['state'] == 'ready'" <"$T/out"
  # A tube named with digits stays a string.
  bp put -t 12345 x >/dev/null
  run bp --json stats-tube 12345
  json_check "d['name'] == '12345'" <"$T/out"
  run bp stats-tube t_never_made
  expect_rc 1
  expect_err_has NOT_FOUND
  run bp stats-job 999999999
  expect_rc 1
}

test_list_commands() {
  bp put -t t_list x >/dev/null
  run bp list-tubes
  expect_rc 0
  grep -qx t_list "$T/out" || fail "list-tubes"
  grep -qx default "$T/out" || fail "list-tubes default"
  run bp --json list-tubes
  json_check "isinstance(d, list) and 't_list' in d" <"$T/out"
  run bp list-tube-used
  expect_out default
  run bp --json list-tube-used
  json_check "d == 'default'" <"$T/out"
  run bp list-tubes-watched
  expect_out default
  run bp --json list-tubes-watched
  json_check "d == ['default']" <"$T/out"
}

# ------------------------------------------------------------------------------------- top

test_top_plain_when_not_a_terminal() {
  bp put -t t_top_plain x >/dev/null
  run bp top -n 2 -i 0.2
  expect_rc 0
  [[ $(grep -c '^TUBE' "$T/out") == 2 ]] || fail "expected two snapshots"
  grep -q '^t_top_plain ' "$T/out" || fail "tube not shown"
  grep -q 'READY.*RESERVED.*DELAYED.*BURIED.*URGENT.*WAITING.*WATCHING.*PAUSED.*PUT/s.*DEL/s' \
    "$T/out" || fail "columns"
  if grep -q $'\e' "$T/out"; then fail "escape sequences in plain mode"; fi
  run bp top -n 1 -t t_top_plain
  grep -q '^default ' "$T/out" && fail "-t should show only that tube"
  # Without -n it runs until interrupted, and stops cleanly on SIGINT/SIGTERM.
  "$BP" -a "$S1" top -i 0.2 >"$T/long" 2>&1 &
  local pid=$! i
  for i in $(seq 100); do (($(grep -c '^TUBE' "$T/long") >= 2)) && break; sleep 0.1; done
  kill -INT "$pid"
  wait "$pid"
  assert_eq "$?" 0 "top after SIGINT"
  (($(grep -c '^TUBE' "$T/long") >= 2)) || fail "periodic print"
}

test_top_json() {
  bp put -t t_top_json x >/dev/null
  run bp --json top -n 2 -i 0.3
  expect_rc 0
  [[ $(wc -l <"$T/out") == 2 ]] || fail "two lines"
  head -1 "$T/out" >"$T/first"
  tail -1 "$T/out" >"$T/second"
  json_check "d['server']['put_rate'] is None and any(t['name'] == 't_top_json' for t in d['tubes'])" <"$T/first"
  json_check "isinstance(d['server']['put_rate'], float) and all(set(['ready','reserved','delayed','buried','urgent','waiting','watching','pause_time_left','put_rate','delete_rate']) <= set(t) for t in d['tubes'])" <"$T/second"
}

# tmux on a private socket: a real pseudo-terminal for top.
tmux_top() {
  TMUX_SOCK=$T/tmux.sock
  tmux -S "$TMUX_SOCK" new-session -d -x 150 -y 40 \
    "$1 '$BP' -a '$S1' top -i 0.3; echo \$? > '$T/top_rc'; sleep 30"
}
tmux_screen() { tmux -S "$TMUX_SOCK" capture-pane -p "$@"; }
tmux_wait_for() {
  local i
  for i in $(seq 60); do
    tmux_screen | grep -q "$1" && return 0
    sleep 0.1
  done
  fail "screen never showed '$1': $(tmux_screen)"
}

test_top_terminal() {
  command -v tmux >/dev/null || fail "tmux is needed for this test"
  bp put -t t_top_tty x >/dev/null
  bp put -t t_top_tty2 -d 100 y >/dev/null
  tmux_top ""
  tmux_wait_for "t_top_tty2"
  tmux_screen >"$T/screen"
  grep -q 'beanpole top' "$T/screen" || fail "title"
  grep -q 'q: quit' "$T/screen" || fail "hint"
  grep -Eq '^t_top_tty +1 +0 +0 +0 +0 ' "$T/screen" || fail "tube row: $(cat "$T/screen")"
  grep -Eq '^t_top_tty2 +0 +0 +1 ' "$T/screen" || fail "delayed count"
  tmux_screen -e | grep -q $'\e\\[' || fail "no colour on a terminal"
  # Rates appear from the second refresh on, and new puts show up.
  bp put -t t_top_tty z >/dev/null
  tmux_wait_for "^t_top_tty  *2 "
  tmux -S "$TMUX_SOCK" send-keys q
  local i
  for i in $(seq 50); do [[ -s "$T/top_rc" ]] && break; sleep 0.1; done
  assert_eq "$(cat "$T/top_rc" 2>/dev/null)" 0 "top's exit status after q"
  tmux_screen | grep -q 'beanpole top' && fail "screen not restored after q"
  tmux -S "$TMUX_SOCK" kill-server
}

test_top_terminal_ctrl_c_and_no_color() {
  command -v tmux >/dev/null || fail "tmux is needed for this test"
  bp put -t t_top_nc x >/dev/null
  tmux_top "NO_COLOR=1"
  tmux_wait_for "t_top_nc"
  if tmux_screen -e | grep -q $'\e\\['; then fail "colour despite NO_COLOR"; fi
  tmux -S "$TMUX_SOCK" send-keys C-c
  local i
  for i in $(seq 50); do [[ -s "$T/top_rc" ]] && break; sleep 0.1; done
  assert_eq "$(cat "$T/top_rc" 2>/dev/null)" 0 "top's exit status after Ctrl-C"
  tmux -S "$TMUX_SOCK" kill-server
}

# The server restarts under top: top says it is reconnecting, then carries on (plain mode: on
# stderr; on a terminal: on the screen).
test_top_reconnects_when_the_server_restarts() {
  local srv spid pid i
  start_server srv || fail "server"
  spid=${SERVER_PIDS[-1]}
  "$BP" -a "$srv" put -t t_topr_before x >/dev/null
  "$BP" -a "$srv" top -i 0.2 >"$T/out" 2>"$T/err" &
  pid=$!
  WORK_PIDS+=("$pid")
  for i in $(seq 50); do (($(grep -c '^TUBE' "$T/out") >= 2)) && break; sleep 0.1; done
  kill_server "$spid"
  sleep 1
  kill -0 "$pid" 2>/dev/null || { wait "$pid"; fail "top exited ($?) when the server went away: $(cat "$T/err")"; }
  expect_err_has "top: connection to $srv lost"
  expect_err_has "reconnecting, attempt"
  start_server_on srv "${srv##*:}" || fail "restart"
  "$BP" -a "$srv" put -t t_topr_after y >/dev/null
  for i in $(seq 100); do grep -q '^t_topr_after ' "$T/out" && break; sleep 0.1; done
  grep -q '^t_topr_after ' "$T/out" || fail "top did not carry on: $(tail -5 "$T/out")"
  expect_err_has "top: reconnected to $srv"
  kill -INT "$pid"
  wait_exit "$pid" 50
  expect_rc 0 "top after SIGINT"
  # On a terminal, the reconnecting shows on the screen.
  command -v tmux >/dev/null || fail "tmux is needed for this test"
  spid=${SERVER_PIDS[-1]}
  TMUX_SOCK=$T/tmux.sock
  tmux -S "$TMUX_SOCK" new-session -d -x 150 -y 40 \
    "'$BP' -a '$srv' top -i 0.3; echo \$? > '$T/top_rc'; sleep 30"
  tmux_wait_for "t_topr_after"
  kill_server "$spid"
  tmux_wait_for "reconnecting, attempt"
  start_server_on srv "${srv##*:}" || fail "restart"
  "$BP" -a "$srv" put -t t_topr_third z >/dev/null
  tmux_wait_for "t_topr_third"
  if tmux_screen | grep -q "reconnecting"; then fail "the notice stayed: $(tmux_screen)"; fi
  tmux -S "$TMUX_SOCK" send-keys q
  for i in $(seq 50); do [[ -s "$T/top_rc" ]] && break; sleep 0.1; done
  assert_eq "$(cat "$T/top_rc" 2>/dev/null)" 0 "top's exit status after q"
  tmux -S "$TMUX_SOCK" kill-server
  stop_servers
}

# -------------------------------------------------------------------------- export / import

test_export_import_two_servers() {
  local src dst
  start_server src && start_server dst || fail "servers"
  local -a ids=()
  all_bytes | "$BP" -a "$src" put -t mv_a -p 5 -r 30 >/dev/null
  python3 -c 'import os,sys; sys.stdout.buffer.write(os.urandom(4000))' >"$T/random"
  "$BP" -a "$src" put -t mv_a -p 6 <"$T/random" >/dev/null
  "$BP" -a "$src" put -t mv_a -p 7 "text ünïcödé" >/dev/null
  "$BP" -a "$src" put -t mv_b "" >/dev/null
  "$BP" -a "$src" put -t mv_b -d 1000 "delayed stays" >/dev/null
  local buried
  buried=$("$BP" -a "$src" put -t mv_b -p 1 "was buried")
  "$BP" -a "$src" reserve --job "$buried" --bury >/dev/null
  "$BP" -a "$src" put -t mv_c "not exported" >/dev/null

  run "$BP" -a "$src" export -t mv_a -t mv_b --buried
  expect_rc 0
  [[ ! -s "$T/err" ]] || fail "stderr not empty: $(cat "$T/err")"
  cp "$T/out" "$T/jobs.ndjson"
  [[ $(wc -l <"$T/jobs.ndjson") == 5 ]] || fail "expected 5 lines: $(cat "$T/jobs.ndjson")"
  python3 - "$T/jobs.ndjson" <<'EOF' || fail "NDJSON content"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
for l in lines:
    assert set(l) >= {"id", "tube", "pri", "ttr", "delay", "state"}, l
    assert ("body" in l) != ("body_base64" in l), l
states = sorted(l["state"] for l in lines)
assert states == ["buried", "ready", "ready", "ready", "ready"], states
EOF
  # Moved out: only the delayed job and the other tube remain on the source.
  run "$BP" -a "$src" --json stats-tube mv_a
  [[ $RC == 1 ]] || json_check "d['current-jobs-ready'] == 0" <"$T/out"
  run "$BP" -a "$src" --json stats-tube mv_b
  json_check "d['current-jobs-ready'] == 0 and d['current-jobs-buried'] == 0 and d['current-jobs-delayed'] == 1" <"$T/out"
  run "$BP" -a "$src" peek-ready -t mv_c
  expect_out "not exported"

  run "$BP" -a "$dst" --json import "$T/jobs.ndjson"
  expect_rc 0
  json_check "d == {'imported': 5}" <"$T/out"
  # Every body back, byte for byte, in priority order, with its priority and TTR.
  "$BP" -a "$dst" reserve -w mv_a --wait 0 --delete >"$T/a1" || fail "a1"
  all_bytes | cmp - "$T/a1" || fail "binary body changed"
  local id
  id=$("$BP" -a "$dst" --json peek-ready -t mv_a | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  "$BP" -a "$dst" --json stats-job "$id" >"$T/st"
  json_check "d['pri'] == 6 and d['ttr'] == 60" <"$T/st"
  "$BP" -a "$dst" reserve -w mv_a --wait 0 --delete >"$T/a2"
  cmp "$T/random" "$T/a2" || fail "random body changed"
  run "$BP" -a "$dst" reserve -w mv_a --wait 0 --delete
  expect_out "text ünïcödé"
  # The buried job is buried again (issue 15), with its priority.
  run "$BP" -a "$dst" peek-buried -t mv_b
  expect_out "was buried"
  run "$BP" -a "$dst" reserve -w mv_b --wait 0 --delete
  expect_rc 0
  expect_out ""
  stop_servers
}

test_export_all_and_file_output() {
  local src
  start_server src || fail "server"
  "$BP" -a "$src" put -t e1 one >/dev/null
  "$BP" -a "$src" put -t e2 two >/dev/null
  "$BP" -a "$src" put three >/dev/null
  run "$BP" -a "$src" export --all -o "$T/all.ndjson"
  expect_rc 0
  expect_out ""
  [[ $(wc -l <"$T/all.ndjson") == 3 ]] || fail "three jobs"
  run "$BP" -a "$src" export -t e1 --all
  expect_rc 2 "--all with -t"
  # Round trip into another tube with import -t, from stdin.
  "$BP" -a "$src" import -t merged <"$T/all.ndjson" >"$T/out" 2>"$T/err" || fail "import"
  expect_out ""
  run "$BP" -a "$src" --json stats-tube merged
  json_check "d['current-jobs-ready'] == 3" <"$T/out"
  # A paused tube is exported too.
  "$BP" -a "$src" pause-tube merged 100
  run "$BP" -a "$src" export -t merged
  [[ $(wc -l <"$T/out") == 3 ]] || fail "paused tube not exported"
  stop_servers
}

# export through a proxy that cuts its connection in the middle: it reconnects and goes on, and
# the output holds every job exactly once. Cut after a delete reached the server (its reply
# lost: the job is written and gone, unknown to export), then after a reserve-job (the job held
# unwritten: the server gives it back), then with no retries (exit 3, a summary).
test_export_survives_a_cut_connection() {
  local srv proxy id cuts
  start_server srv || fail "server"
  start_fault_proxy proxy "$srv"
  seq 1 3000 | sed 's/^/cut:/' | "$BP" -a "$srv" put -t exp_cut --lines >"$T/ids" || fail "put"
  id=$(sed -n 1500p "$T/ids")
  ((id >= 1000 && id <= 9999)) || fail "a four-digit id for the cut: $id"
  fault_cut "delete $id"
  run "$BP" -a "$proxy" --timeout 5 export -t exp_cut -o "$T/cut.ndjson"
  expect_rc 0 "export through a cut"
  expect_err_has "reconnected"
  echo cuts >&"${FAULT_PROXY[1]}"
  read -r -t 10 -u "${FAULT_PROXY[0]}" cuts
  assert_eq "$cuts" 1 "cuts"

  seq 1 1000 | sed 's/^/held:/' | "$BP" -a "$srv" put -t exp_held --lines >"$T/ids2" || fail "put"
  id=$(sed -n 500p "$T/ids2")
  fault_cut "stats-job $id"
  run "$BP" -a "$proxy" --timeout 5 export -t exp_held -o "$T/held.ndjson"
  expect_rc 0 "export through a cut after reserve-job"
  expect_err_has "reconnected"
  python3 - "$T/cut.ndjson" cut 3000 "$T/held.ndjson" held 1000 <<'EOF2' || fail "export output"
import collections, json, sys
for path, prefix, n in ((sys.argv[1], sys.argv[2], int(sys.argv[3])),
                        (sys.argv[4], sys.argv[5], int(sys.argv[6]))):
    bodies = collections.Counter(json.loads(l)["body"] for l in open(path))
    want = {"%s:%d" % (prefix, i) for i in range(1, n + 1)}
    assert set(bodies) == want, ("missing", sorted(want - set(bodies))[:5])
    twice = [b for b, k in bodies.items() if k > 1]
    assert not twice, ("written twice", twice[:5])
EOF2
  run "$BP" -a "$srv" peek-ready -t exp_cut
  expect_rc 1 "a job left on the server"

  seq 1 1000 | sed 's/^/once:/' | "$BP" -a "$srv" put -t exp_once --lines >"$T/ids3" || fail "put"
  fault_cut "delete $(sed -n 300p "$T/ids3")"
  run "$BP" -a "$proxy" --timeout 5 export -t exp_once --retries 0 -o "$T/once.ndjson"
  expect_rc 3 "export without retries"
  expect_err_has "300 jobs written to $T/once.ndjson: the output is incomplete"
  [[ $(wc -l <"$T/once.ndjson") == 300 ]] || fail "lines written: $(wc -l <"$T/once.ndjson")"
  stop_servers
}

test_export_keeps_job_when_write_fails() {
  local src id
  start_server src || fail "server"
  id=$("$BP" -a "$src" put -t keep "precious")
  "$BP" -a "$src" export -t keep >/dev/full 2>"$T/err"
  RC=$?
  expect_rc 3 "export to /dev/full"
  run "$BP" -a "$src" --json stats-job "$id"
  json_check "d['state'] == 'ready'" <"$T/out"
  # A server that cannot be reached leaves an earlier export file alone.
  echo "earlier export" >"$T/backup.ndjson"
  run "$BP" -a "$(dead_addr)" export -o "$T/backup.ndjson"
  expect_rc 3
  assert_eq "$(cat "$T/backup.ndjson")" "earlier export" "file truncated"
  stop_servers
}

test_import_bad_lines_exit_2() {
  local dst
  start_server dst || fail "server"
  printf '%s\n' '{"tube":"imp","body":"one"}' '' '{"tube":"imp","body_base64":"dHdv"}' \
    'not json' '{"tube":"imp","body":"never"}' >"$T/bad.ndjson"
  run "$BP" -a "$dst" import "$T/bad.ndjson"
  expect_rc 2
  expect_err_has "line 4"
  run "$BP" -a "$dst" --json stats-tube imp
  json_check "d['current-jobs-ready'] == 2" <"$T/out"
  local bad
  for bad in '{"tube":"bad name","body":"x"}' '{"body":"x","pri":4294967296}' \
    '{"body":"x","ttr":-1}' '{"tube":"imp"}' '{"body_base64":"!!"}' '[1,2]'; do
    echo "$bad" >"$T/one.ndjson"
    run "$BP" -a "$dst" import "$T/one.ndjson"
    expect_rc 2 "$bad"
  done
  run "$BP" -a "$dst" import "$T/does-not-exist"
  expect_rc 3 "missing file"
  stop_servers
}

test_import_refused_jobs_exit_1() {
  local dst
  start_server dst -z 5 || fail "server"
  printf '%s\n' '{"tube":"small","body":"ok"}' '{"tube":"small","body":"far too big"}' \
    '{"tube":"small","body":"ok2"}' >"$T/in.ndjson"
  run "$BP" -a "$dst" import "$T/in.ndjson"
  expect_rc 1
  expect_err_has "line 2"
  expect_err_has JOB_TOO_BIG
  run "$BP" -a "$dst" --json stats-tube small
  json_check "d['current-jobs-ready'] == 2" <"$T/out"
  stop_servers
}

# import through tests/support's fault proxy, cut right after a batch of puts reached the
# server: import reconnects as put --lines does and goes on with the lines never written; the
# lines whose outcome is unknown are never sent again, and the summary names them; the test
# reconciles the server: every other line is there exactly once, each unknown one 0 or 1 times.
test_import_reconnects_after_a_cut() {
  local srv proxy
  start_server srv || fail "server"
  start_fault_proxy proxy "$srv"
  python3 -c '
import json
for i in range(1, 2001):
    print(json.dumps({"tube": "imp_cut", "body": "j%d" % i}))' >"$T/in.ndjson"
  fault_cut "put "
  run "$BP" -a "$proxy" --timeout 5 import "$T/in.ndjson"
  expect_rc 3 "lines with an unknown outcome"
  echo cuts >&"${FAULT_PROXY[1]}"
  local cuts
  read -r -t 10 -u "${FAULT_PROXY[0]}" cuts
  assert_eq "$cuts" 1 "cuts"
  expect_err_has "reconnected"
  expect_err_has "import: 2000 lines read: "
  expect_err_has "outcome unknown: line"
  if grep -q "not sent" "$T/err"; then fail "nothing was left unsent: $(cat "$T/err")"; fi
  "$BP" -a "$srv" export -t imp_cut -o "$T/back.ndjson" || fail "export"
  python3 - "$T/back.ndjson" "$T/err" <<'EOF2' || fail "reconciliation: $(cat "$T/err")"
import collections, json, re, sys
bodies = collections.Counter(json.loads(l)["body"] for l in open(sys.argv[1]))
err = open(sys.argv[2]).read()
m = re.search(r"outcome unknown: lines? ([0-9, -]+)", err)
unknown = set()
for part in m.group(1).split(", "):
    a, _, b = part.partition("-")
    unknown.update(range(int(a), int(b or a) + 1))
assert unknown and len(unknown) <= 512, unknown
for i in range(1, 2001):
    n = bodies["j%d" % i]
    if i in unknown:
        assert n in (0, 1), (i, n)
    else:
        assert n == 1, ("line %d is on the server %d times" % (i, n))
assert re.search(r"import: 2000 lines read: %d put" % (2000 - len(unknown)), err), err
EOF2
  stop_servers
}

test_progress_only_on_terminal() {
  local src
  start_server src || fail "server"
  seq 1 3000 | "$BP" -a "$src" put -t prog --lines >/dev/null || fail "put --lines"
  run "$BP" -a "$src" export -t prog -o "$T/p.ndjson"
  expect_rc 0
  [[ ! -s "$T/err" ]] || fail "export drew on a non-terminal: $(cat -v "$T/err")"
  run "$BP" -a "$src" import "$T/p.ndjson"
  expect_rc 0
  [[ ! -s "$T/err" ]] || fail "import drew on a non-terminal"
  # Under a pseudo-terminal (script(1) records every frame): a bar with rate and ETA, then
  # a summary line.
  command -v script >/dev/null || fail "script(1) is needed for this test"
  script -qec "'$BP' -a '$src' export -t prog -o '$T/q.ndjson'" "$T/typescript" >/dev/null
  grep -aq 'export \[[#.]*\] *[0-9]*% [0-9]* jobs .*jobs/s  ETA [0-9]*:[0-9][0-9]' "$T/typescript" ||
    fail "no export bar: $(tr '\r' '\n' <"$T/typescript" | cat -v | head -5)"
  grep -aq 'export: 3000 jobs in' "$T/typescript" || fail "no export summary"
  [[ $(wc -l <"$T/q.ndjson") == 3000 ]] || fail "exported under a terminal"
  script -qec "'$BP' -a '$src' import '$T/q.ndjson'" "$T/typescript2" >/dev/null
  grep -aq 'import \[[#.]*\] .*jobs/s' "$T/typescript2" || fail "no import bar"
  grep -aq 'import: 3000 jobs in' "$T/typescript2" || fail "no import summary"
  stop_servers
}

# export writes each job's state (and a delayed job's remaining delay, with --delayed); import
# puts it back in that state: buried again by id, delayed for what it had left.
test_export_import_keeps_state_and_delay() {
  local src dst buried delayed id left
  start_server src && start_server dst || fail "servers"
  buried=$("$BP" -a "$src" put -t st -p 7 "was buried") || fail "put"
  "$BP" -a "$src" reserve --job "$buried" --bury >/dev/null || fail "bury"
  local put_at=$SECONDS
  delayed=$("$BP" -a "$src" put -t st -p 3 -r 40 -d 100 "was delayed") || fail "put"
  "$BP" -a "$src" put -t st -p 5 "was ready" >/dev/null || fail "put"
  run "$BP" -a "$src" export -t st --buried --delayed -o "$T/st.ndjson"
  expect_rc 0
  # What was left of the delay, whatever time this (maybe loaded) machine took.
  python3 - "$T/st.ndjson" $((100 - (SECONDS - put_at) - 2)) <<'EOF' || fail "export: $(cat "$T/st.ndjson")"
import json, sys
rows = {r["state"]: r for r in map(json.loads, open(sys.argv[1]))}
assert sorted(rows) == ["buried", "delayed", "ready"], rows
assert int(sys.argv[2]) <= rows["delayed"]["delay"] <= 100, rows["delayed"]
assert rows["delayed"]["pri"] == 3 and rows["delayed"]["ttr"] == 40
EOF
  run "$BP" -a "$src" --json stats-tube st
  [[ $RC == 1 ]] || json_check "d['current-jobs-delayed'] == 0 and d['current-jobs-buried'] == 0" <"$T/out"
  run "$BP" -a "$dst" import "$T/st.ndjson"
  expect_rc 0
  run "$BP" -a "$dst" --json stats-tube st
  json_check "d['current-jobs-ready'] == 1 and d['current-jobs-delayed'] == 1 and d['current-jobs-buried'] == 1 and d['current-jobs-reserved'] == 0" <"$T/out"
  id=$("$BP" -a "$dst" --json peek-buried -t st | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  assert_eq "$(job_field_at "$dst" "$id" pri)" 7 "buried with its priority"
  assert_eq "$("$BP" -a "$dst" peek "$id")" "was buried" "buried body"
  id=$("$BP" -a "$dst" --json peek-delayed -t st | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  left=$(job_field_at "$dst" "$id" time-left)
  ((left >= 100 - (SECONDS - put_at) - 2 && left <= 100)) ||
    fail "remaining delay $left after $((SECONDS - put_at)) s (the delay was reset or lost)"
  assert_eq "$(job_field_at "$dst" "$id" pri)" 3 "delayed priority"
  assert_eq "$(job_field_at "$dst" "$id" ttr)" 40 "delayed ttr"
  # A "delay" on a ready line is the one it was once put with: ignored.
  echo '{"tube":"st2","body":"r","delay":50,"state":"ready"}' >"$T/r.ndjson"
  "$BP" -a "$dst" import "$T/r.ndjson" || fail "import"
  run "$BP" -a "$dst" peek-ready -t st2
  expect_out r
  echo '{"tube":"st2","body":"r","state":"reserved"}' >"$T/bad.ndjson"
  run "$BP" -a "$dst" import "$T/bad.ndjson"
  expect_rc 2 "an unknown state"
  "$BP" export --help | grep -q -- "--delayed" || fail "--help lacks --delayed"
  stop_servers
}

# ------------------------------------------------------------------------------- move / flush

test_move_ready_keeps_priority_and_ttr() {
  local a b
  a=$(bp put -t t_mv_src -p 7 -r 42 "first")
  b=$(bp put -t t_mv_src -p 9 "second")
  bp put -t t_mv_src -d 100 "delayed, stays" >/dev/null
  run bp move --from t_mv_src --to t_mv_dst
  expect_rc 0
  expect_out 2
  [[ ! -s "$T/err" ]] || fail "stderr: $(cat "$T/err")"
  run bp peek "$a"
  expect_rc 1 "source deleted"
  run bp peek-ready -t t_mv_dst
  expect_out "first"
  local id
  id=$(bp --json peek-ready -t t_mv_dst | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  assert_eq "$(job_field "$id" pri)" 7 "priority"
  assert_eq "$(job_field "$id" ttr)" 42 "ttr"
  assert_eq "$(job_field "$id" tube)" t_mv_dst "tube"
  run bp --json stats-tube t_mv_src
  json_check "d['current-jobs-ready'] == 0 and d['current-jobs-delayed'] == 1" <"$T/out"
  : "$b"
}

test_move_delayed_and_buried_keep_their_state() {
  bp put -t t_mvs_src -d 100 -p 3 "later" >/dev/null
  local buried
  buried=$(bp put -t t_mvs_src -p 4 "buried")
  bp reserve --job "$buried" --bury --pri 4 >/dev/null
  run bp move --from t_mvs_src --to t_mvs_dst --state delayed
  expect_rc 0
  expect_out 1
  run bp move --from t_mvs_src --to t_mvs_dst --state buried
  expect_rc 0
  expect_out 1
  run bp --json stats-tube t_mvs_dst
  json_check "d['current-jobs-delayed'] == 1 and d['current-jobs-buried'] == 1 and d['current-jobs-ready'] == 0" <"$T/out"
  local id
  id=$(bp --json peek-delayed -t t_mvs_dst | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  local left
  left=$(job_field "$id" time-left)
  ((left >= 80 && left <= 100)) || fail "remaining delay $left (the delay was reset or lost)"
  id=$(bp --json peek-buried -t t_mvs_dst | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  assert_eq "$(job_field "$id" pri)" 4 "buried priority"
}

test_move_limit_and_json() {
  local i
  for i in 1 2 3 4 5; do bp put -t t_mvl_src "$i" >/dev/null; done
  run bp move --from t_mvl_src --to t_mvl_dst --limit 2
  expect_rc 0
  expect_out 2
  run bp --json move --from t_mvl_src --to t_mvl_dst
  expect_rc 0
  expect_out '{"moved":3}'
  run bp move --from t_mvl_src --to t_mvl_dst
  expect_rc 0
  expect_out 0
  run bp move --from t_mvl_nowhere --to t_mvl_dst
  expect_rc 0 "a tube that does not exist has nothing to move"
  expect_out 0
}

test_move_flush_usage_errors_exit_2() {
  local dead
  dead=$(dead_addr)
  local -a cases=(
    "move --to b" "move --from a" "move --from a --to a" "move --from bad%20name --to b"
    "move --from a --to b --state reserved" "move --from a --to b --limit -1"
    "move --from a --to b --limit x" "move --from a --to b --limit 1.5" "move --from a --to b extra"
    "flush" "flush bad%20name --yes" "flush a --state reserved --yes" "flush a b --yes"
  )
  each_case_exits_2 "$dead" "${cases[@]}"
  run "$BP" -a "$dead" move --from a --to b
  expect_rc 3 "control: valid arguments try to connect"
}

test_move_unknown_outcome_exits_3_naming_both_ids() {
  local src proxy
  start_server src || fail "server"
  local a
  a=$("$BP" -a "$src" put -t mvu "first")
  "$BP" -a "$src" put -t mvu "second" >/dev/null
  start_cut_proxy proxy "$src" "put "
  run "$BP" -a "$proxy" move --from mvu --to mvu_dst
  expect_rc 3
  expect_out 0
  expect_err_has "source job $a is still in mvu"
  expect_err_has "copy job unknown"
  # The source is still there (released when the connection closed), nothing was lost; the
  # copy did reach the server: a duplicate, which the message warned of.
  sleep 0.2
  run "$BP" -a "$src" --json stats-job "$a"
  expect_rc 0
  json_check "d['tube'] == 'mvu' and d['state'] == 'ready'" <"$T/out"
  run "$BP" -a "$src" --json stats-tube mvu
  json_check "d['current-jobs-ready'] == 2" <"$T/out"
  stop_servers
}

test_serving_commands_refuse_remote_addresses() {
  local dead
  dead=$(dead_addr)
  run "$BP" -a "$dead" exporter --listen 0.0.0.0:9127
  expect_rc 2 "exporter on 0.0.0.0 without --allow-remote"
  expect_err_has "allow-remote"
  run "$BP" -a "$dead" exporter --listen nonsense
  expect_rc 2 "exporter --listen nonsense"
  run "$BP" -a "$dead" console --listen 0.0.0.0:8080
  expect_rc 2 "console on 0.0.0.0"
  run "$BP" -a "$dead" console --listen 0.0.0.0:8080 --allow-remote
  expect_rc 2 "console on 0.0.0.0 without --auth-file"
  expect_err_has "auth-file"
  run "$BP" -a "$dead" console --listen 0.0.0.0:8080 --auth-file "$T/none"
  expect_rc 2 "console without --allow-remote"
  run "$BP" -a "$dead" console --listen '[::]:8080' --allow-remote --auth-file "$T/missing"
  expect_rc 2 "unreadable --auth-file"
}

test_console_auth_file_and_csrf() {
  printf '# users\nops:s3cret\n' >"$T/auth"
  "$BP" -a "$S1" console --listen 127.0.0.1:0 --auth-file "$T/auth" 2>"$T/console.err" &
  local pid=$! url="" i
  for i in $(seq 100); do
    url=$(grep -o 'http://127.0.0.1:[0-9]*/' "$T/console.err" 2>/dev/null) && break
    sleep 0.05
  done
  [[ -n "$url" ]] || { kill "$pid"; fail "console did not start: $(cat "$T/console.err")"; }
  python3 - "$url" <<'EOF' || { kill "$pid"; fail "auth / CSRF checks"; }
import base64, json, sys, urllib.request, urllib.error
url = sys.argv[1]
def status(path, auth=None, data=None, headers=None):
    req = urllib.request.Request(url + path, data=data, headers=headers or {})
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
assert status("")[0] == 401
assert status("", "ops:wrong")[0] == 401
code, body = status("api/session", "ops:s3cret")
assert code == 200, code
token = json.loads(body)["csrf"]
put = json.dumps({"tube": "t_console_auth", "body": "x"}).encode()
ctype = {"Content-Type": "application/json"}
assert status("api/put", "ops:s3cret", put, ctype)[0] == 403, "no CSRF token"
assert status("api/put", "ops:s3cret", put, dict(ctype, **{"X-CSRF-Token": "0" * 48}))[0] == 403
code, body = status("api/put", "ops:s3cret", put, dict(ctype, **{"X-CSRF-Token": token}))
assert code == 200 and json.loads(body)["id"] > 0, (code, body)
EOF
  kill "$pid"
  wait "$pid" 2>/dev/null
  run bp --json stats-tube t_console_auth
  json_check "d['current-jobs-ready'] == 1" <"$T/out"
}

test_flush_states_with_yes() {
  local i
  for i in 1 2 3; do bp put -t t_fl "r$i" >/dev/null; done
  bp put -t t_fl -d 100 "d" >/dev/null
  local b
  b=$(bp put -t t_fl "b")
  bp reserve --job "$b" --bury >/dev/null
  run bp flush t_fl --state buried --yes
  expect_rc 0
  expect_out 1
  run bp --json flush t_fl --state delayed -y
  expect_rc 0
  expect_out '{"deleted":1}'
  run bp flush t_fl --state ready --yes
  expect_rc 0
  expect_out 3
  for i in 1 2; do bp put -t t_fl "r$i" >/dev/null; done
  bp put -t t_fl -d 100 "d" >/dev/null
  run bp flush t_fl --yes
  expect_rc 0
  expect_out 3
  run bp flush t_fl_nowhere --yes
  expect_rc 0
  expect_out 0
}

test_flush_without_terminal_needs_yes() {
  bp put -t t_fly "keep me" >/dev/null
  run bp flush t_fly </dev/null
  expect_rc 2
  expect_err_has "yes"
  expect_out ""
  echo y | run bp flush t_fly
  expect_rc 2 "a pipe is not a terminal"
  run bp --json stats-tube t_fly
  json_check "d['current-jobs-ready'] == 1" <"$T/out"
}

test_flush_asks_on_a_terminal() {
  command -v script >/dev/null || fail "script(1) is needed for this test"
  bp put -t t_flt "one" >/dev/null
  bp put -t t_flt "two" >/dev/null
  printf 'n\n' | script -qec "'$BP' -a '$S1' flush t_flt; echo \"rc=\$?\"" "$T/ts1" >/dev/null
  grep -aq 'Delete the 2 ready, delayed and buried jobs of tube t_flt' "$T/ts1" ||
    fail "no question: $(cat -v "$T/ts1")"
  grep -aq 'rc=1' "$T/ts1" || fail "declined: $(cat -v "$T/ts1")"
  run bp --json stats-tube t_flt
  json_check "d['current-jobs-ready'] == 2" <"$T/out"
  printf 'y\n' | script -qec "'$BP' -a '$S1' flush t_flt; echo \"rc=\$?\"" "$T/ts2" >/dev/null
  grep -aq 'rc=0' "$T/ts2" || fail "confirmed: $(cat -v "$T/ts2")"
  run bp peek-ready -t t_flt
  expect_rc 1 "the tube is empty"
}

# ------------------------------------------------------------------- man page and completion

test_man_page() {
  [[ -n "$MANPAGE" && -s "$MANPAGE" ]] || fail "no man page at '$MANPAGE'"
  grep -q '^\.TH BEANPOLE 1' "$MANPAGE" || fail ".TH"
  local c
  for c in put reserve delete kick kick-job pause-tube peek peek-ready peek-delayed \
    peek-buried stats stats-tube stats-job list-tubes list-tube-used list-tubes-watched top \
    export import work move flush exporter console; do
    grep -q "^\.SS $c\$" "$MANPAGE" || fail "man page lacks $c"
  done
  grep -q '^\.SH EXIT STATUS' "$MANPAGE" || fail "EXIT STATUS section"
  grep -q '^\.SH ENVIRONMENT' "$MANPAGE" || fail "ENVIRONMENT section"
  if command -v groff >/dev/null; then
    groff -man -Tutf8 -ww "$MANPAGE" >"$T/rendered" 2>"$T/warnings" || fail "groff failed"
    [[ ! -s "$T/warnings" ]] || fail "groff warnings: $(head -5 "$T/warnings")"
    grep -q 'BEANSTALKD_ADDR' "$T/rendered" || fail "rendered page"
  fi
}

test_bash_completion() {
  [[ -n "$COMPLETIONS" ]] || fail "no completions dir"
  bp put -t t_compl x >/dev/null
  # shellcheck disable=SC1091
  source "$COMPLETIONS/beanpole.bash"
  COMP_WORDS=("$BP" pe)
  COMP_CWORD=1
  _beanpole
  assert_eq "${COMPREPLY[*]}" "peek peek-ready peek-delayed peek-buried" "commands"
  COMP_WORDS=("$BP" -a "$S1" stats-tube t_co)
  COMP_CWORD=4
  _beanpole
  assert_eq "${COMPREPLY[*]}" "t_compl" "tube names from the server"
  COMP_WORDS=("$BP" -a "$S1" reserve --de)
  COMP_CWORD=4
  _beanpole
  assert_eq "${COMPREPLY[*]}" "--delete --delay" "reserve options"
  COMP_WORDS=("$BP" -a "$S1" move --from t_co)
  COMP_CWORD=5
  _beanpole
  assert_eq "${COMPREPLY[*]}" "t_compl" "move --from: tube names"
  COMP_WORDS=("$BP" flush t_compl --state b)
  COMP_CWORD=4
  _beanpole
  assert_eq "${COMPREPLY[*]}" "buried" "flush --state"
  COMP_WORDS=("$BP" --js)
  COMP_CWORD=1
  _beanpole
  assert_eq "${COMPREPLY[*]}" "--json" "global options"
  # Every command of --help is completed, in bash and in zsh, and nothing else.
  "$BP" --help | awk '/^[A-Z].*:$/ {s=$0} /^  [a-z]/ && s != "Options:" && s !~ /^(Exit|Reserved|TLS|Environment|Examples)/ {print $1}' |
    sort >"$T/help_cmds"
  echo $_beanpole_commands | tr ' ' '\n' | sort >"$T/bash_cmds"
  diff "$T/help_cmds" "$T/bash_cmds" >/dev/null || fail "bash commands differ from --help"
  grep -o "^    '[a-z-]*:" "$COMPLETIONS/_beanpole" | tr -d " ':" | sort >"$T/zsh_cmds"
  diff "$T/help_cmds" "$T/zsh_cmds" >/dev/null || fail "zsh commands differ from --help"
  if command -v zsh >/dev/null; then zsh -n "$COMPLETIONS/_beanpole" || fail "zsh syntax"; fi
}

# bash hands the completion function words split at ':' and '=' ($COMP_WORDBREAKS): an address
# given as -a HOST:PORT or --addr=HOST:PORT must still be the server asked for tube names.
test_bash_completion_with_split_address() {
  [[ -n "$COMPLETIONS" ]] || fail "no completions dir"
  bp put -t t_splitaddr x >/dev/null
  # shellcheck disable=SC1091
  source "$COMPLETIONS/beanpole.bash"
  local host=${S1%:*} port=${S1##*:}
  export BEANSTALKD_ADDR
  BEANSTALKD_ADDR=$(dead_addr)  # only the address on the command line can answer
  COMP_WORDS=("$BP" -a "$host" : "$port" stats-tube t_spl)
  COMP_CWORD=6
  _beanpole
  assert_eq "${COMPREPLY[*]}" "t_splitaddr" "-a HOST : PORT"
  COMP_WORDS=("$BP" --addr = "$host" : "$port" stats-tube t_spl)
  COMP_CWORD=7
  _beanpole
  assert_eq "${COMPREPLY[*]}" "t_splitaddr" "--addr = HOST : PORT"
  COMP_WORDS=("$BP" --addr = "$host" : "$port" reserve -w t_spl)
  COMP_CWORD=8
  _beanpole
  assert_eq "${COMPREPLY[*]}" "t_splitaddr" "reserve -w after --addr=HOST:PORT"
  COMP_WORDS=("$BP" -a "$host" : "$port" kick-)
  COMP_CWORD=5
  _beanpole
  assert_eq "${COMPREPLY[*]}" "kick-job" "commands after -a HOST:PORT"
  COMP_WORDS=("$BP" -a "$host" : "$port" put --ret)
  COMP_CWORD=6
  _beanpole
  assert_eq "${COMPREPLY[*]}" "--retries" "options after -a HOST:PORT"
  COMP_WORDS=("$BP" -a "$host" :)
  COMP_CWORD=3
  COMPREPLY=()
  _beanpole
  assert_eq "${COMPREPLY[*]}" "" "an address is not completed"
}

# The same in a real interactive bash (in tmux), which splits the words itself.
test_bash_completion_in_bash() {
  [[ -n "$COMPLETIONS" ]] || fail "no completions dir"
  command -v tmux >/dev/null || fail "tmux is needed for this test"
  bp put -t t_realbash_tube x >/dev/null
  mkdir -p "$T/bin"
  ln -s "$BP" "$T/bin/beanpole"
  printf '%s\n' "PS1='> '" "source '$COMPLETIONS/beanpole.bash'" >"$T/bashrc"
  TMUX_SOCK=$T/tmux.sock
  tmux -S "$TMUX_SOCK" new-session -d -x 200 -y 30 \
    "env -i HOME='$T' TERM=xterm PATH='$T/bin:/usr/bin:/bin' BEANSTALKD_ADDR=$(dead_addr) bash --noprofile --rcfile '$T/bashrc' -i"
  tmux_wait_for "^>"
  tmux -S "$TMUX_SOCK" send-keys "beanpole -a $S1 stats-tube t_realbash_t" Tab
  tmux_wait_for "stats-tube t_realbash_tube"
  tmux -S "$TMUX_SOCK" send-keys C-u "beanpole --addr=$S1 peek-ready -t t_realbash_t" Tab
  tmux_wait_for "peek-ready -t t_realbash_tube"
  tmux -S "$TMUX_SOCK" kill-server
}

test_zsh_completion() {
  if ! command -v zsh >/dev/null; then
    echo "    (zsh not installed: only the bash completion was exercised)" >&2
    return 0
  fi
  [[ -n "$COMPLETIONS" ]] || fail "no completions dir"
  zsh -n "$COMPLETIONS/_beanpole" || fail "zsh syntax"
  bp put -t t_zsh_tube x >/dev/null
  mkdir -p "$T/zdot" "$T/bin"
  ln -s "$BP" "$T/bin/beanpole"
  {
    echo "fpath=('$COMPLETIONS' \$fpath)"
    echo "path=('$T/bin' \$path)"
    echo "autoload -Uz compinit && compinit -u -d '$T/zcompdump'"
    echo "PS1='> '"
  } >"$T/zdot/.zshrc"
  TMUX_SOCK=$T/tmux.sock
  tmux -S "$TMUX_SOCK" new-session -d -x 150 -y 30 "ZDOTDIR='$T/zdot' zsh -i"
  tmux_wait_for "^>"
  tmux -S "$TMUX_SOCK" send-keys "beanpole -a $S1 stats-tube t_zsh_t" Tab
  tmux_wait_for "stats-tube t_zsh_tube"
  tmux -S "$TMUX_SOCK" send-keys C-u "beanpole kick-" Tab
  tmux_wait_for "beanpole kick-job"
  tmux -S "$TMUX_SOCK" send-keys C-u "beanpole reserve --ex" Tab
  tmux_wait_for "reserve --exec"
  tmux -S "$TMUX_SOCK" kill-server
}


# ------------------------------------------------------------------------------------------ TLS

# make_certs DIR: a CA, a server certificate for 127.0.0.1, a client certificate, another CA.
make_certs() {
  bash "$(dirname "$SELF")/../support/make_test_certs.sh" "$1" >/dev/null 2>&1 || fail "make_test_certs.sh"
}

# start_stunnel VAR TARGET_PORT CERT_DIR [require]: Debian's stunnel4 accepting TLS on a free
# loopback port and forwarding to TARGET_PORT; with "require", only clients with a certificate of
# CERT_DIR/ca.pem get through. VAR gets tls://127.0.0.1:PORT. Stopped by pid with the servers.
start_stunnel() {
  start_listener "$1" tls:// 100 launch_stunnel "${@:2}" ||
    fail "cannot start stunnel4: $(cat "$T"/stunnel-*.log)"
}
# launch_stunnel PORT TARGET_PORT CERT_DIR [require]: becomes start_stunnel's stunnel4 on PORT.
launch_stunnel() {
  local port=$1 target=$2 dir=$3 require=${4:-}
  {
    printf 'foreground = yes\npid =\n[beanstalkd]\naccept = 127.0.0.1:%s\n' "$port"
    printf 'connect = 127.0.0.1:%s\ncert = %s/server.pem\nkey = %s/server.key\n' "$target" "$dir" "$dir"
    [[ -n "$require" ]] && printf 'CAfile = %s/ca.pem\nverifyChain = yes\nrequireCert = yes\n' "$dir"
  } >"$T/stunnel-$port.conf"
  exec stunnel4 "$T/stunnel-$port.conf" >"$T/stunnel-$port.log" 2>&1
}

# expect_one_line_err TEXT: stderr is exactly one line and holds TEXT.
expect_one_line_err() {
  [[ $(wc -l <"$T/err") == 1 ]] || fail "stderr is not one line: $(cat "$T/err")"
  expect_err_has "$1"
}

test_tls_put_reserve_with_client_certificates() {
  make_certs "$T/pki"
  start_stunnel TLS1 "${S1##*:}" "$T/pki" require
  local tls=(-a "$TLS1" --tls-ca "$T/pki/ca.pem" --tls-cert "$T/pki/client.pem" --tls-key "$T/pki/client.key")
  run "$BP" "${tls[@]}" put -t tls.cli "hello over TLS"
  expect_rc 0
  local id
  id=$(cat "$T/out")
  all_bytes | "$BP" "${tls[@]}" put -t tls.cli >/dev/null || fail "binary put"
  run "$BP" "${tls[@]}" reserve -w tls.cli --delete
  expect_rc 0
  grep -q "hello over TLS" "$T/out" || fail "reserve printed: $(cat "$T/out")"
  run "$BP" "${tls[@]}" --tls-server-name localhost peek "$id"
  expect_rc 1  # deleted: NOT_FOUND, over a connection verified for the name localhost
  expect_err_has NOT_FOUND
  run "$BP" "${tls[@]}" reserve -w tls.cli --delete
  expect_rc 0
  cmp <(all_bytes) "$T/out" || fail "binary body differs"
}

test_tls_pool_of_two_addresses() {
  make_certs "$T/pki"
  start_server S2 || fail "second server"
  start_stunnel TLS1 "${S1##*:}" "$T/pki" require
  start_stunnel TLS2 "${S2##*:}" "$T/pki" require
  local tls=(-a "$TLS1,$TLS2" --tls-ca "$T/pki/ca.pem" --tls-cert "$T/pki/client.pem" --tls-key "$T/pki/client.key")
  local i
  printf 'job %s\n' 1 2 3 4 | "$BP" "${tls[@]}" put -t tls.pool --lines >"$T/ids" || fail "put --lines"
  # Round robin over the two: each ADDR/ID names the tls:// address as written.
  [[ $(grep -c "^$TLS1/" "$T/ids") == 2 && $(grep -c "^$TLS2/" "$T/ids") == 2 ]] ||
    fail "puts not spread over both: $(cat "$T/ids")"
  for i in 1 2 3 4; do
    run "$BP" "${tls[@]}" reserve -w tls.pool --wait 3 --delete
    expect_rc 0
    grep -q "^job " "$T/out" || fail "reserve $i printed: $(cat "$T/out")"
  done
  run "$BP" "${tls[@]}" reserve -w tls.pool --wait 1
  expect_rc 1
  # Nothing left on either server: the tube is gone (NOT_FOUND) or empty.
  local s
  for s in "$S1" "$S2"; do
    run "$BP" -a "$s" --json stats-tube tls.pool
    if [[ $RC == 0 ]]; then
      json_check "d['current-jobs-ready'] == 0 and d['current-jobs-reserved'] == 0" <"$T/out"
    else
      expect_rc 1 "stats-tube on $s"
      expect_err_has NOT_FOUND
    fi
  done
}

test_tls_failures_exit_3_saying_why() {
  make_certs "$T/pki"
  start_stunnel TLS1 "${S1##*:}" "$T/pki" require
  local cert=(--tls-cert "$T/pki/client.pem" --tls-key "$T/pki/client.key")
  run "$BP" -a "$TLS1" --tls-ca "$T/pki/other-ca.pem" "${cert[@]}" stats
  expect_rc 3 "wrong CA"
  expect_one_line_err "certificate is not trusted"
  run "$BP" -a "$TLS1" --tls-ca "$T/pki/ca.pem" "${cert[@]}" --tls-server-name queue.example.com stats
  expect_rc 3 "wrong name"
  expect_one_line_err "does not match"
  run "$BP" -a "$TLS1" --tls-ca "$T/pki/ca.pem" stats
  expect_rc 3 "no client certificate"
  expect_one_line_err "TLS handshake failed"
  expect_err_has "certificate"
  run "$BP" -a "tls://$S1" --tls-ca "$T/pki/ca.pem" --timeout 2 stats
  expect_rc 3 "plain server addressed as TLS"
  expect_one_line_err "does not speak TLS"
  # stunnel resets a client that speaks plain text, without a byte: the client asks it again in
  # TLS before it reports the reset, for a put too (nothing reached the server).
  run "$BP" -a "${TLS1#tls://}" stats
  expect_rc 3 "TLS server addressed as plain"
  expect_one_line_err "answered in TLS"
  run "$BP" -a "${TLS1#tls://}" put -t tls.cli "never stored"
  expect_rc 3 "put to a TLS server addressed as plain"
  expect_one_line_err "answered in TLS"
}

test_tls_option_misuse_exits_2() {
  make_certs "$T/pki"
  run "$BP" -a "$S1" --tls-ca "$T/pki/ca.pem" stats
  expect_rc 2 "TLS options without a tls:// address"
  expect_err_has "tls://"
  run "$BP" -a "tls://$S1" --tls-cert "$T/pki/client.pem" stats
  expect_rc 2 "--tls-cert without --tls-key"
  run "$BP" -a "tls://$S1" --tls-ca "$T/pki/missing.pem" stats
  expect_rc 2 "unreadable CA file"
  expect_err_has "missing.pem"
  run "$BP" -a "tls://unix:/tmp/x" stats
  expect_rc 2 "TLS over a Unix socket"
}

# The README's "beanstalkd behind stunnel, with client certificates" example, run as written
# (ports and the binary substituted).
test_tls_readme_example() {
  local readme
  readme="$(dirname "$SELF")/../../README.md"
  make_certs "$T/work"
  awk '/<!-- tls-example-begin -->/{f=1; next} /<!-- tls-example-end -->/{f=0} f' "$readme" |
    sed '/^```/d' >"$T/example.sh"
  [[ -s "$T/example.sh" ]] || fail "README has no TLS example"
  mkdir -p "$T/bin"
  ln -s "$BP" "$T/bin/beanpole"
  local tls_port
  tls_port=$(free_port)
  (cd "$T/work" && PATH="$T/bin:$PATH" SERVER_PORT="${S1##*:}" TLS_PORT="$tls_port" \
    bash -e "$T/example.sh" >"$T/out" 2>"$T/err")
  RC=$?
  [[ -f "$T/work/stunnel.pid" ]] && SERVER_PIDS+=("$(cat "$T/work/stunnel.pid")")
  expect_rc 0 "the README example"
  grep -q "hello" "$T/out" || fail "the example printed: $(cat "$T/out")"
}

# -------------------------------------------------------------------------------------- main

run_one() {
  T=$(mktemp -d)
  trap 'stop_stray_workers; stop_servers; [[ -n "${TMUX_SOCK:-}" ]] && tmux -S "$TMUX_SOCK" kill-server 2>/dev/null; rm -rf "$T"' EXIT
  "$1"
}

if [[ "${1:-}" == "--run-one" ]]; then
  run_one "$2"
  exit $?
fi

start_server S1 || exit 1
export S1
trap stop_servers EXIT
# test_man_page reads the build's man page, which packaging.install moves aside for a moment: it
# has a CTest entry of its own, under a lock (cli/CMakeLists.txt).
RUN_ALONE=(test_man_page)
run_test_functions "$SELF" "$BP" "$BEANSTALKD" "$MANPAGE" "$COMPLETIONS" -- "$@"
