#!/usr/bin/env bash
# bench/instructions.sh - user-space instruction counts with valgrind --tool=callgrind, the one
# place that runs callgrind. The method of bench/RESULTS.md: N operations, process start-up
# included, the same for beanpole and for the raw-socket C driver (../shared/bench/bsdrive.c).
#
# Executed, it is the callgrind regression guard (ctest label `callgrind`): it builds bsdrive in
# BUILD_DIR with the system C compiler, counts 10,000 operations on each side (the least of three runs,
# see measure), every run against a private beanstalkd of its own on a free loopback port,
# prints both counts and the ratio, and
# fails when beanpole costs more than LIMIT times the raw driver's instructions:
#   pipelined  beanpole-bench -m pipe-put (async client)    bsdrive -m put-pipe   limit 2.5x
#   blocking   beanpole-bench -m sync-put (blocking client) bsdrive -m put-sync   limit 1.8x
#   pipelined reserve+delete (10,000 jobs put first)
#              beanpole-bench -m pipe-rd (async client)     bsdrive -m rd-pipe    limit 1.8x
#   and the pool over one server against the async client's count (in the "raw" column):
#   pool1 put  beanpole-bench -m pool-put                   -m pipe-put           limit 1.3x
#   pool1 rd   beanpole-bench -m pool-rd                    -m pipe-rd            limit 1.2x
# A missing harness folder is a failure, never a skip.
#   usage: bench/instructions.sh BUILD_DIR
#   env:   BEANPOLE_SHARED_BENCH  the harness folder (default: ../shared/bench beside the project)
#
# Sourced (bench/run.sh), it only defines count_instructions and build_bsdrive.

# count_instructions OUT COMMAND...: runs COMMAND under callgrind (profile in OUT, valgrind's log
# in OUT.log, the command's output in OUT.stdout) and prints the instructions it executed.
# Fails, showing the log, when the command fails.
count_instructions() {
  local out=$1
  shift
  if ! valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >"$out.stdout" 2>"$out.log"; then
    echo "failed under callgrind: $*" >&2
    cat "$out.stdout" "$out.log" >&2
    return 1
  fi
  awk '/^summary:/ { print $2; found = 1; exit } END { if (!found) exit 1 }' "$out"
}

# build_bsdrive SHARED DEST: compiles SHARED/bsdrive.c into DEST unless DEST is newer.
build_bsdrive() {
  local src=$1/bsdrive.c dest=$2
  if [ ! -f "$src" ]; then
    echo "the raw-socket driver $src is missing: the shared benchmark harness" \
      "(../shared/bench beside the project) is needed; set BEANPOLE_SHARED_BENCH to its folder" >&2
    return 1
  fi
  [ "$dest" -nt "$src" ] && return 0
  "${CC:-cc}" -O2 -Wall -o "$dest" "$src"
}

# ------------------------------------------------------------------------------- the guard
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  [ $# -eq 1 ] || { sed -n '2,19p' "$0"; exit 2; }
  build=$(cd "$1" && pwd)
  root=$(cd "$(dirname "$0")/.." && pwd)
  shared=${BEANPOLE_SHARED_BENCH:-$root/../shared/bench}
  n=10000
  command -v valgrind >/dev/null || { echo "valgrind not found (scripts/setup.sh installs it)" >&2; exit 1; }
  build_bsdrive "$shared" "$build/bsdrive"
  bench=$build/beanpole-bench
  [ -x "$bench" ] || { echo "$bench not built" >&2; exit 1; }
  . "$root/scripts/private-beanstalkd.sh"
  work=$build/callgrind  # the profiles of the last run, for callgrind_annotate
  rm -rf "$work" && mkdir -p "$work"

  # measure LABEL COMMAND... (with {PORT}): the instructions of the cheapest of `runs` runs, each
  # on a fresh server. The least, because what differs between runs only adds: how the scheduler
  # interleaves client and server decides how many replies each read brings, and a run that
  # falls into many small reads and writes pays the reactor for each (seen: 1,220 to 1,670 per
  # pipelined put from one run to the next). The raw driver is measured the same way.
  runs=3
  # PRELOAD=1: the server gets n jobs first (for reserve+delete), put by the raw driver.
  measure() {
    local label=$1 port total best=""
    shift
    for ((r = 1; r <= runs; r++)); do
      start_private_beanstalkd || return 1
      port=${BEANSTALKD_ADDR##*:}
      if [ "${PRELOAD:-0}" = 1 ]; then
        "$build/bsdrive" -q -p "$port" -m put-pipe -n "$n" >/dev/null || return 1
      fi
      total=$(count_instructions "$work/$label.$r.out" "${@//\{PORT\}/$port}") || return 1
      stop_private_beanstalkd
      grep -q "^RESULT .* ops=$n " "$work/$label.$r.out.stdout" || {
        echo "$label: did not complete $n operations" >&2
        cat "$work/$label.$r.out.stdout" >&2
        return 1
      }
      if [ -z "$best" ] || [ "$total" -lt "$best" ]; then best=$total; fi
    done
    echo "$best"
  }

  failed=0
  printf '%-14s %14s %14s %10s %10s %7s %6s\n' mode raw beanpole raw/op beanpole/op ratio limit
  # check MODE LIMIT RAW_MODE BEANPOLE_MODE (PRELOAD=1 in the environment for reserves)
  check() {
    local mode=$1 limit=$2 raw bp verdict
    raw=$(measure "raw-$3" "$build/bsdrive" -p '{PORT}' -m "$3" -n "$n") || exit 1
    bp=$(measure "beanpole-$4" "$bench" -p '{PORT}' -m "$4" -n "$n") || exit 1
    verdict "$mode" "$limit" "$raw" "$bp"
    last_beanpole=$bp
  }
  # verdict MODE LIMIT BASE MEASURED: prints the row and fails when MEASURED > LIMIT x BASE.
  verdict() {
    local mode=$1 limit=$2 raw=$3 bp=$4 v
    v=$(awk -v r="$raw" -v b="$bp" -v l="$limit" 'BEGIN { print (b <= l * r ? "ok" : "FAIL") }')
    awk -v m="$mode" -v r="$raw" -v b="$bp" -v n="$n" -v l="$limit" -v v="$v" 'BEGIN {
      printf "%-14s %14d %14d %10.0f %10.0f %6.2fx %5.2fx %s\n", m, r, b, r / n, b / n, b / r, l, v }'
    [ "$v" = ok ] || failed=1
  }
  # check_pool MODE LIMIT POOL_MODE: the pool over one server against the async client's count
  # just measured (`last_beanpole`, in the "raw" column).
  check_pool() {
    local pool
    pool=$(measure "beanpole-$3" "$bench" -p '{PORT}' -m "$3" -n "$n") || exit 1
    verdict "$1" "$2" "$last_beanpole" "$pool"
  }
  # 1,130-1,190 per op (2.2-2.3x) since a deep pipeline waits for readiness before it reads
  # (bench/NOTES.md): before, runs that fell into small reads cost up to 1,680.
  check "pipelined put" 2.5 put-pipe pipe-put
  # The pool over one server against the async client: 1,440-1,480 per put (1.15-1.22x: the tube
  # every put names, the server every id names, the pool's reference held until the reply) since
  # puts go straight to the client; 5,470 (4.6x) before (bench/NOTES.md, "The pool").
  check_pool "pool1 put" 1.3 pool-put
  check "blocking put" 1.8 put-sync sync-put
  # 2,630-2,680 per pair (1.5x) since a job action skips the strand while no reserve connection
  # exists; 3,640-3,690 (2.1x) before.
  PRELOAD=1 check "pipelined rd" 1.8 rd-pipe pipe-rd
  # 3,030-3,050 per pair (1.1x) since zero-second reserves and deletes go straight to the client;
  # 13,994 (5.3x) before.
  PRELOAD=1 check_pool "pool1 rd" 1.2 pool-rd
  echo "instructions: valgrind --tool=callgrind, user space, $n operations each, process start-up included;" \
    "profiles in $work"
  [ "$failed" -eq 0 ] || { echo "FAILED: beanpole is above its limit (ratio column)"; exit 1; }
fi
