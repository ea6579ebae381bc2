#!/usr/bin/env bash
# End-to-end tests of the beanpole tool on several servers (issue 14's CLI contract): three real
# beanstalkd servers on free loopback ports, started here and stopped by PID, and an address
# where nothing listens for "a server down".
#
#   pool_tests.sh BEANPOLE BEANSTALKD [TEST_NAME...]
#
# Every test_* function runs in its own process with a hard timeout and servers of its own.
set -u

BP=$(realpath "$1")
BEANSTALKD=$2
shift 2
SELF=$(realpath "${BASH_SOURCE[0]}")
TEST_TIMEOUT=60

# free_port, accepting, start_server, start_server_on, stop_servers, SERVER_PIDS,
# run_test_functions
. "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

# wait_port PORT: until something accepts on 127.0.0.1:PORT (5 s at most).
wait_port() { accepting "$1" 100 || fail "nothing listens on port $1"; }
three() { start_server A && start_server B && start_server C || fail "servers"; }
dead_addr() { echo "127.0.0.1:$(free_port)"; }

# fail, run, expect_rc, expect_out, expect_err_has, assert_eq, json_check
. "$(dirname "${BASH_SOURCE[0]}")/asserts.sh"

# pbp ARGS: beanpole on the pool of A, B and C (-a repeated and a comma list, both).
pbp() { "$BP" -a "$A,$B" -a "$C" "$@"; }
# on SERVER ARGS: beanpole on one server.
on() {
  local s=$1
  shift
  "$BP" -a "$s" "$@"
}

# ------------------------------------------------------------------------------------ tests

test_put_prints_addr_id_and_round_robin_is_even() {
  three
  run pbp put -t rr hello
  expect_rc 0
  grep -Eq "^($A|$B|$C)/[0-9]+$" "$T/out" || fail "not ADDR/ID: $(cat "$T/out")"
  seq 299 | pbp put -t rr --lines >"$T/ids" || fail "put --lines"
  assert_eq "$(wc -l <"$T/ids")" 299 "one id a line"
  cat "$T/out" >>"$T/ids"
  local s n
  for s in "$A" "$B" "$C"; do
    n=$(grep -c "^$s/" "$T/ids")
    ((n >= 90 && n <= 110)) || fail "$s took $n of 300 (round-robin within 10% of even)"
    assert_eq "$(on "$s" --json stats-tube rr | python3 -c 'import json,sys; print(json.load(sys.stdin)["current-jobs-ready"])')" "$n" "ready on $s"
  done
}

test_beanstalkd_addr_takes_the_list() {
  three
  run env BEANSTALKD_ADDR="$A,$B,$C" "$BP" put -t env x
  expect_rc 0
  grep -Eq "^($A|$B|$C)/[0-9]+$" "$T/out" || fail "not ADDR/ID: $(cat "$T/out")"
  run env BEANSTALKD_ADDR="$A" "$BP" put -t env x
  expect_rc 0
  grep -Eq "^[0-9]+$" "$T/out" || fail "one server prints a bare id: $(cat "$T/out")"
}

test_placement_tube_keeps_a_tube_on_one_server() {
  three
  local i
  for i in 1 2 3 4 5 6; do pbp put --placement tube -t kept "j$i"; done >"$T/ids"
  assert_eq "$(cut -d/ -f1-2 "$T/ids" | sed 's|/[0-9]*$||' | sort -u | wc -l)" 1 "servers used"
  run pbp put --placement nonsense -t kept x
  expect_rc 2
  run pbp --json put --placement round-robin -t kept x
  expect_rc 0
  json_check '"server" in d and d["job"] == d["server"] + "/" + str(d["id"])' <"$T/out"
}

test_a_bare_id_with_several_servers_is_a_usage_error() {
  three
  local c
  for c in "delete 1" "kick-job 1" "peek 1" "stats-job 1" "reserve --job 1" \
    "delete 127.0.0.9:1/1" "peek $A/0" "peek $A/x"; do
    run pbp $c
    expect_rc 2 "$c"
  done
}

test_job_commands_take_addr_id() {
  three
  local id
  id=$(pbp put -t jobs body1) || fail "put"
  run pbp --json stats-job "$id"
  expect_rc 0
  json_check "d['id'] == ${id##*/} and d['tube'] == 'jobs'" <"$T/out"
  run pbp peek "$id"
  expect_out body1
  run pbp --json peek "$id"
  json_check "d['server'] == '${id%/*}' and d['body'] == 'body1'" <"$T/out"
  run pbp reserve --job "$id" --bury
  expect_rc 0
  run pbp --json stats-job "$id"
  json_check "d['state'] == 'buried'" <"$T/out"
  run pbp kick-job "$id"
  expect_rc 0
  run pbp delete "$id"
  expect_rc 0
  run pbp peek "$id"
  expect_rc 1
  expect_err_has NOT_FOUND
  expect_err_has "$id"
}

test_reserve_takes_a_job_from_any_server_and_json_names_it() {
  three
  on "$C" put -t rsv only-on-c >/dev/null
  run pbp --json reserve -w rsv --wait 3 --delete
  expect_rc 0
  json_check "d['server'] == '$C' and d['body'] == 'only-on-c' and d['tube'] == 'rsv'" <"$T/out"
  run pbp reserve -w rsv --wait 1
  expect_rc 1
  expect_err_has TIMED_OUT
  on "$B" put -t rsv exec-me >/dev/null
  run pbp reserve -w rsv --wait 3 --exec 'cat >/dev/null; echo "$BEANPOLE_JOB_ID" >&2'
  expect_rc 0
  expect_err_has "$B/"
}

# A job torn by a server crash on one server of the pool (killed, zeroed in its binlog,
# restarted on it): reserve exits 1 naming the job ADDR/ID and how to delete it.
test_reserve_names_a_torn_job_with_its_server() {
  local port pid id
  three
  mkdir "$T/binlog"
  port=$(free_port)
  "$BEANSTALKD" -l 127.0.0.1 -p "$port" -b "$T/binlog" </dev/null >/dev/null 2>&1 &
  pid=$!
  wait_port "$port"
  id=$("$BP" -a "127.0.0.1:$port" put -t torn "to be torn by the crash") || fail "put"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null
  tear_job_in_binlog "$T/binlog" "to be torn by the crash"
  "$BEANSTALKD" -l 127.0.0.1 -p "$port" -b "$T/binlog" </dev/null >/dev/null 2>&1 &
  SERVER_PIDS+=("$!")
  wait_port "$port"
  run "$BP" -a "$A,127.0.0.1:$port" reserve -w torn --wait 3
  expect_rc 1 "reserve of a torn job"
  expect_err_has "job 127.0.0.1:$port/$id is corrupt"
  expect_err_has "beanpole delete 127.0.0.1:$port/$id"
  run "$BP" -a "$A,127.0.0.1:$port" delete "127.0.0.1:$port/$id"
  expect_rc 0 "delete the torn job"
}

test_peeks_look_on_every_server() {
  three
  on "$C" put -t pk on-c >/dev/null
  run pbp --json peek-ready -t pk
  expect_rc 0
  json_check "d['server'] == '$C' and d['body'] == 'on-c'" <"$T/out"
  run pbp peek-delayed -t pk
  expect_rc 1
  expect_err_has NOT_FOUND
}

test_kick_totals_and_pause_reaches_every_server() {
  three
  local s id
  for s in "$A" "$B" "$C"; do
    id=$(on "$s" put -t kk x) || fail put
    on "$s" reserve --job "$id" --bury >/dev/null || fail bury
  done
  run pbp kick -t kk 10
  expect_rc 0
  expect_out 3
  run pbp pause-tube kk 40
  expect_rc 0
  for s in "$A" "$B" "$C"; do
    on "$s" --json stats-tube kk | json_check "d['pause'] == 40"
  done
  run pbp pause-tube no-such-tube 1
  expect_rc 1
  expect_err_has NOT_FOUND
}

test_list_tubes_is_the_union() {
  three
  on "$A" put -t only-a x >/dev/null
  on "$C" put -t only-c x >/dev/null
  run pbp list-tubes
  expect_rc 0
  expect_out "$(printf 'default\nonly-a\nonly-c')"
}

test_stats_json_totals_and_servers() {
  three
  on "$A" put -t st x >/dev/null
  on "$B" put -t st x >/dev/null
  on "$B" put -t st x >/dev/null
  run pbp --json stats
  expect_rc 0
  json_check "d['total']['current-jobs-ready'] == 3 and sorted(d['servers']) == sorted(['$A', '$B', '$C']) and d['servers']['$B']['current-jobs-ready'] == 2" <"$T/out"
  run pbp --json stats-tube st
  expect_rc 0
  json_check "d['total']['current-jobs-ready'] == 3 and d['servers']['$A']['current-jobs-ready'] == 1" <"$T/out"
  run pbp stats-tube st
  expect_rc 0
  assert_eq "$(grep -m1 '^current-jobs-ready:' "$T/out")" "current-jobs-ready: 3" "text: totals first"
}

test_a_server_down() {
  three
  local dead
  dead=$(dead_addr)
  on "$A" put -t dn x >/dev/null
  # Read-only: exit 0 when one answered, the others named on stderr.
  run "$BP" -a "$A,$dead" --json stats
  expect_rc 0
  expect_err_has "$dead"
  json_check "'error' in d['servers']['$dead'] and d['total']['current-jobs-ready'] == 1" <"$T/out"
  run "$BP" -a "$A,$dead" list-tubes
  expect_rc 0
  expect_err_has "$dead"
  # Puts go to the servers that are up.
  run "$BP" -a "$A,$dead" put -t dn y
  expect_rc 0
  grep -q "^$A/" "$T/out" || fail "put went to $(cat "$T/out")"
  # Applied to every server: exit 3 naming the one that failed, after the others.
  local id
  id=$(on "$A" put -t dn z) || fail put
  on "$A" reserve --job "$id" --bury >/dev/null
  run "$BP" -a "$A,$dead" kick -t dn 10
  expect_rc 3
  expect_err_has "$dead"
  expect_out 1
  run "$BP" -a "$A,$dead" pause-tube dn 5
  expect_rc 3
  expect_err_has "$dead"
  on "$A" --json stats-tube dn | json_check "d['pause'] == 5"
  # No server at all: exit 3.
  run "$BP" -a "$dead,$(dead_addr)" put -t dn x
  expect_rc 3
}

# restart_on ADDR: a new server on ADDR's port (after the old one was killed); its PID is kept.
restart_on() {
  local addr
  start_server_on addr "${1##*:}" || fail "cannot restart beanstalkd on $1"
}
# wait_count FILE N: waits until FILE has at least N lines (20 s at most).
wait_count() {
  local i
  for i in $(seq 200); do
    [[ -e "$1" ]] && (($(wc -l <"$1") >= $2)) && return 0
    sleep 0.1
  done
  fail "timed out waiting for $2 lines in $1: $(cat "$1" 2>/dev/null)"
}

test_work_serves_every_server_and_keeps_working_while_one_is_down() {
  three
  local s pid i
  for s in "$A" "$B" "$C"; do on "$s" put -t wk "first-$s" >/dev/null || fail put; done
  # Not through pbp: $! must be beanpole's own PID, for the signal.
  "$BP" -a "$A,$B" -a "$C" work -w wk --concurrency 2 -- sh -c 'printf "%s %s\n" "$BEANPOLE_JOB_ID" "$(cat)" >>"$1"' \
    sh "$T/done" >"$T/out" 2>"$T/err" &
  pid=$!
  wait_count "$T/done" 3
  for s in "$A" "$B" "$C"; do
    grep -q "^$s/[0-9]* first-$s\$" "$T/done" || fail "no job of $s as ADDR/ID: $(cat "$T/done")"
  done
  # B goes down: the jobs of A and C are still run.
  kill -KILL "${SERVER_PIDS[1]}"
  wait "${SERVER_PIDS[1]}" 2>/dev/null
  on "$A" put -t wk during-A >/dev/null
  on "$C" put -t wk during-C >/dev/null
  wait_count "$T/done" 5
  # B comes back (empty, no binlog) and is served again.
  restart_on "$B"
  on "$B" put -t wk after-B >/dev/null
  wait_count "$T/done" 6
  grep -q "^$B/[0-9]* after-B\$" "$T/done" || fail "B not served after its restart: $(cat "$T/done")"
  kill -TERM "$pid"
  wait_exit "$pid" 100
  assert_eq "$RC" 0 "work after SIGTERM"
  grep -q "connection lost ($B)" "$T/err" || fail "the lost server is not named: $(cat "$T/err")"
  grep -Eq '^wk +6 +6 ' "$T/err" || fail "counters: $(cat "$T/err")"
  # Every job deleted, on its own server.
  for s in "$A" "$B" "$C"; do
    run on "$s" --json stats
    json_check "d['current-jobs-ready'] == 0 and d['current-jobs-reserved'] == 0" <"$T/out"
  done
}

test_work_starts_with_a_server_down_and_takes_it_when_it_comes_up() {
  three
  local pid i
  kill -KILL "${SERVER_PIDS[1]}"
  wait "${SERVER_PIDS[1]}" 2>/dev/null
  on "$A" put -t wl a >/dev/null
  "$BP" -a "$A,$B" work -w wl -- sh -c 'printf "%s\n" "$BEANPOLE_JOB_ID" >>"$1"' sh "$T/done" \
    >"$T/out" 2>"$T/err" &
  pid=$!
  wait_count "$T/done" 1
  restart_on "$B"
  on "$B" put -t wl b >/dev/null
  wait_count "$T/done" 2
  grep -q "^$B/" "$T/done" || fail "B not served once up: $(cat "$T/done")"
  kill -TERM "$pid"
  wait_exit "$pid" 100
  assert_eq "$RC" 0 "work after SIGTERM"
}

test_work_with_no_server_up_waits_then_runs() {
  local d1 d2 pid
  d1=$(dead_addr)
  d2=$(dead_addr)
  "$BP" -a "$d1,$d2" work -w wk -- true >"$T/out" 2>"$T/err" &
  pid=$!
  local i
  for i in $(seq 100); do grep -q "waiting for the server at" "$T/err" && break; sleep 0.1; done
  grep -q "waiting for the server at" "$T/err" || fail "not waiting: $(cat "$T/err")"
  kill -TERM "$pid"
  wait_exit "$pid" 100
  assert_eq "$RC" 0 "work stopped while waiting"
}

test_top_shows_totals_and_each_server() {
  three
  on "$A" put -t tp x >/dev/null
  on "$B" put -t tp x >/dev/null
  on "$B" put -t tp2 -d 100 y >/dev/null
  run pbp top -n 2 -i 0.2
  expect_rc 0
  [[ $(grep -c '^TUBE' "$T/out") == 2 ]] || fail "two snapshots: $(cat "$T/out")"
  grep -Eq '^jobs  ready 2  reserved 0  delayed 1 ' "$T/out" || fail "totals: $(cat "$T/out")"
  grep -Eq '^tp +2 ' "$T/out" || fail "tube totals: $(cat "$T/out")"
  grep -q '^SERVER' "$T/out" || fail "no per-server breakdown"
  grep -Eq "^$A +1 +0 +0 +0 " "$T/out" || fail "row of A: $(cat "$T/out")"
  grep -Eq "^$B +1 +0 +1 +0 " "$T/out" || fail "row of B: $(cat "$T/out")"
  grep -Eq "^$C +0 +0 +0 +0 " "$T/out" || fail "row of C: $(cat "$T/out")"
  if grep -q $'\e' "$T/out"; then fail "escape sequences in plain mode"; fi
  run pbp --json top -n 2 -i 0.2
  expect_rc 0
  [[ $(wc -l <"$T/out") == 2 ]] || fail "two lines"
  tail -1 "$T/out" | json_check "d['total']['server']['ready'] == 2 and d['servers']['$B']['server']['delayed'] == 1 and isinstance(d['total']['server']['put_rate'], float) and any(t['name'] == 'tp' and t['ready'] == 2 for t in d['total']['tubes']) and sorted(d['servers']) == sorted(['$A', '$B', '$C'])"
  # A server down: shown as such, the others still add up.
  local dead
  dead=$(dead_addr)
  run "$BP" -a "$A,$dead" top -n 1
  expect_rc 0
  grep -Eq "^$dead +down " "$T/out" || fail "down server: $(cat "$T/out")"
  grep -Eq '^jobs  ready 1 ' "$T/out" || fail "totals with one down: $(cat "$T/out")"
  run "$BP" -a "$A,$dead" --json top -n 1
  expect_rc 0
  json_check "'error' in d['servers']['$dead'] and d['total']['server']['ready'] == 1" <"$T/out"
  # No server at all: exit 3.
  run "$BP" -a "$dead,$(dead_addr)" top -n 1
  expect_rc 3
}

test_top_terminal_on_several_servers() {
  command -v tmux >/dev/null || fail "tmux is needed for this test"
  three
  on "$B" put -t tpt x >/dev/null
  local sock=$T/tmux.sock i
  tmux -S "$sock" new-session -d -x 150 -y 40 \
    "'$BP' -a '$A,$B,$C' top -i 0.3; echo \$? > '$T/top_rc'; sleep 30"
  for i in $(seq 60); do
    tmux -S "$sock" capture-pane -p | grep -q "^$C " && break
    sleep 0.1
  done
  tmux -S "$sock" capture-pane -p >"$T/screen"
  grep -q 'beanpole top' "$T/screen" || fail "title: $(cat "$T/screen")"
  grep -Eq '^tpt +1 ' "$T/screen" || fail "tube row: $(cat "$T/screen")"
  grep -Eq "^$B +1 " "$T/screen" || fail "server row: $(cat "$T/screen")"
  tmux -S "$sock" send-keys q
  for i in $(seq 50); do [[ -s "$T/top_rc" ]] && break; sleep 0.1; done
  assert_eq "$(cat "$T/top_rc" 2>/dev/null)" 0 "top's exit status after q"
  tmux -S "$sock" kill-server
}

# ------------------------------------------------------------------------------ move / flush

# ready JOBS of TUBE on SERVER (0 when the tube does not exist).
ready_on() {
  local out
  out=$(on "$1" --json stats-tube "$2" 2>/dev/null) || { echo 0; return; }
  python3 -c 'import json, sys; print(json.load(sys.stdin)["current-jobs-ready"])' <<<"$out"
}

test_move_within_each_server_with_a_total_limit() {
  start_server A && start_server B || fail "servers"
  local i
  for i in 1 2 3; do on "$A" put -t mv "a$i" >/dev/null; done
  for i in 1 2; do on "$B" put -t mv "b$i" >/dev/null; done
  run "$BP" -a "$A,$B" move --from mv --to mv_dst --limit 4
  expect_rc 0
  expect_out 4
  assert_eq "$(($(ready_on "$A" mv_dst) + $(ready_on "$B" mv_dst)))" 4 "moved in all"
  assert_eq "$(($(ready_on "$A" mv) + $(ready_on "$B" mv)))" 1 "left in mv"
  run "$BP" -a "$A" -a "$B" --json move --from mv --to mv_dst
  expect_rc 0
  json_check "d['moved'] == 1 and sum(s['moved'] for s in d['servers'].values()) == 1" <"$T/out"
  # Each job's copy is on the server it came from.
  assert_eq "$(ready_on "$A" mv_dst)" 3 "copies on A"
  assert_eq "$(ready_on "$B" mv_dst)" 2 "copies on B"
  run on "$B" peek-ready -t mv_dst
  expect_out b1
}

test_move_with_a_server_down_moves_on_the_others_and_exits_3() {
  start_server A || fail "server"
  local dead
  dead=$(dead_addr)
  on "$A" put -t mvd one >/dev/null
  on "$A" put -t mvd two >/dev/null
  run "$BP" -a "$dead,$A" move --from mvd --to mvd_dst
  expect_rc 3
  expect_out 2
  expect_err_has "$dead"
  assert_eq "$(ready_on "$A" mvd_dst)" 2 "moved on the server that is up"
  assert_eq "$(ready_on "$A" mvd)" 0 "nothing left on A"
}

test_move_unknown_outcome_names_both_jobs_as_addr_id() {
  start_server A && start_server B || fail "servers"
  local proxy id
  on "$A" put -t mvu a1 >/dev/null
  id=$(on "$B" put -t mvu b1)
  start_cut_proxy proxy "$B" "put "
  run "$BP" -a "$A,$proxy" move --from mvu --to mvu_dst
  expect_rc 3
  expect_out 1
  expect_err_has "source job $proxy/$id is still in mvu"
  expect_err_has "copy job unknown (it may exist in mvu_dst on $proxy"
  assert_eq "$(ready_on "$A" mvu_dst)" 1 "A's job moved"
  sleep 0.2
  run on "$B" --json stats-job "$id"
  expect_rc 0
  json_check "d['tube'] == 'mvu' and d['state'] == 'ready'" <"$T/out"
}

test_flush_every_server_and_a_server_down() {
  start_server A && start_server B || fail "servers"
  local dead
  dead=$(dead_addr)
  on "$A" put -t fl one >/dev/null
  on "$A" put -t fl two >/dev/null
  on "$B" put -t fl three >/dev/null
  on "$B" put -t fl -d 600 later >/dev/null
  run "$BP" -a "$A,$B" flush fl --state ready
  expect_rc 2 "no --yes without a terminal"
  assert_eq "$(($(ready_on "$A" fl) + $(ready_on "$B" fl)))" 3 "nothing deleted"
  run "$BP" -a "$A,$B" --json flush fl --state ready --yes
  expect_rc 0
  json_check "d['deleted'] == 3 and d['servers']['$A']['deleted'] == 2" <"$T/out"
  on "$A" put -t fl four >/dev/null
  run "$BP" -a "$A,$dead,$B" flush fl --yes
  expect_rc 3
  expect_out 2
  expect_err_has "$dead"
  run on "$B" --json stats-tube fl
  [[ $RC != 0 ]] || json_check "d['current-jobs-delayed'] == 0" <"$T/out"
  assert_eq "$(ready_on "$A" fl)" 0 "A flushed"
}

test_flush_asks_once_for_every_server() {
  command -v script >/dev/null || fail "script(1) is needed for this test"
  start_server A && start_server B || fail "servers"
  on "$A" put -t fla one >/dev/null
  on "$B" put -t fla two >/dev/null
  printf 'n\n' | script -qec "'$BP' -a '$A,$B' flush fla; echo \"rc=\$?\"" "$T/ts" >/dev/null
  grep -aq "Delete the 2 ready, delayed and buried jobs of tube fla on $A, $B" "$T/ts" ||
    fail "question: $(cat -v "$T/ts")"
  grep -aq 'rc=1' "$T/ts" || fail "declined: $(cat -v "$T/ts")"
  assert_eq "$(($(ready_on "$A" fla) + $(ready_on "$B" fla)))" 2 "nothing deleted"
}

# -------------------------------------------------------------------------------------- main

if [[ "${1:-}" == "--run-one" ]]; then
  T=$(mktemp -d)
  trap 'stop_servers; rm -rf "$T"' EXIT
  "$2"
  exit $?
fi

run_test_functions "$SELF" "$BP" "$BEANSTALKD" -- "$@"
