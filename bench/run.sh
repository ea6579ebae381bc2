#!/usr/bin/env bash
# bench/run.sh - beanpole side by side with the raw-socket ceiling and the best existing clients.
#
# Runs the shared harness (../shared/bench/run-peers.sh: its own beanstalkd, every client on the
# same workloads, round-robin rounds, every job accounted for) with beanpole's rows added through
# BENCH_EXTRA, then the measurements the harness does not make: callgrind instruction counts,
# the concurrency scale curve, put latency under a waiting reserve, large bodies and the codec
# micro-benchmarks. Writes bench/RESULTS.md and bench/chart.png.
#
# usage: bench/run.sh [-r ROUNDS] [-s SCALE] [-q]
#   -r ROUNDS  rounds of the harness (default 5)
#   -s SCALE   multiply every N by SCALE (default 1; 0.05 for a quick look)
#   -q         quick: skip callgrind, the scale curve and large bodies
# env: BEANPOLE_SHARED_BENCH  the harness folder (default: ../shared/bench beside the project)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${BEANPOLE_SHARED_BENCH:-$ROOT/../shared/bench}
ROUNDS=5 SCALE=1 QUICK=0
while getopts "r:s:q" opt; do
  case $opt in
    r) ROUNDS=$OPTARG ;;
    s) SCALE=$OPTARG ;;
    q) QUICK=1 ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
  esac
done
[ -f "$SHARED/run-peers.sh" ] || { echo "harness not found at $SHARED (set BEANPOLE_SHARED_BENCH)" >&2; exit 1; }
log() { printf '[bench] %s\n' "$*" >&2; }
N() { awk -v n="$1" -v s="$SCALE" 'BEGIN{v=int(n*s); if (v<1) v=1; print v}'; }

# ------------------------------------------------------------------------------- set-up
bash "$ROOT/scripts/setup.sh"
for p in gnuplot-nox time; do  # valgrind comes with setup.sh
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || {
    log "apt-get install $p"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" >/dev/null
  }
done
BUILD=$ROOT/build-bench
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBEANPOLE_BUILD_TESTS=OFF \
  -DBEANPOLE_BUILD_CLI=OFF -DBEANPOLE_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$BUILD" --target beanpole-bench beanpole-codec-bench >/dev/null
BENCH=$BUILD/beanpole-bench
# Taken before this script writes chart.png and RESULTS.md, which would make the tree "dirty".
VERSION="$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
WORK=${BENCH_WORK:-/tmp/bsbench}
OUT=$WORK/beanpole-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"

# ------------------------------------------------------------------ the harness, with our rows
EXTRA=$OUT/extra.conf
cat >"$EXTRA" <<EOF
beanpole-pipe|put|200000|$BENCH -p {PORT} -m pipe-put -n {N}
beanpole-pipe|rd|200000|$BENCH -p {PORT} -m pipe-rd -n {N}
beanpole-sync|put|100000|$BENCH -p {PORT} -m sync-put -n {N}
beanpole-sync|rd|50000|$BENCH -p {PORT} -m sync-rd -n {N}
beanpole-coro|put|200000|$BENCH -p {PORT} -m coro-put -n {N}
beanpole-coro|rd|100000|$BENCH -p {PORT} -m coro-rd -n {N}
EOF
log "harness: $ROUNDS rounds, scale $SCALE"
BENCH_EXTRA=$EXTRA bash "$SHARED/run-peers.sh" -r "$ROUNDS" -s "$SCALE" -o "$OUT/harness" >&2
TABLE=$OUT/harness/table.txt
BSD=$WORK/bsdrive  # built by the harness

# ratio CLIENT MODE BASE: ops/s of CLIENT over BASE in the same mode, and cli_us/op likewise
ratios() {
  awk -v c="$1" -v m="$2" -v b="$3" '
    $1 == c && $2 == m { ops = $5; cpu = $8; rss = $11 }
    $1 == b && $2 == m { bops = $5; bcpu = $8 }
    END { if (ops && bops) printf "%.2fx ops/s, %.2fx cli_us/op (%.2f vs %.2f), rss %s MB", ops / bops, (bcpu > 0 ? cpu / bcpu : 0), cpu, bcpu, rss
          else printf "n/a" }' "$TABLE"
}

# A private server for the measurements below, stopped by pid on exit.
. "$ROOT/scripts/private-beanstalkd.sh"
start_private_beanstalkd -z 2097152
PORT=${BEANSTALKD_ADDR##*:}
drain() { "$BSD" -q -p "$PORT" -m drain >/dev/null 2>&1 || true; }
preload() { "$BSD" -q -p "$PORT" -m put-pipe -n "$1"; }

# ------------------------------------------------------------------------------ callgrind
. "$ROOT/bench/instructions.sh"  # count_instructions: the callgrind method, shared with the guard
CALLGRIND=$OUT/callgrind.txt
: >"$CALLGRIND"
instructions() {  # label, n, preload?, command...
  local label=$1 n=$2 pre=$3; shift 3
  drain
  [ "$pre" = 1 ] && preload "$n"
  local total
  total=$(count_instructions "$OUT/cg-$label.out" "$@")
  printf '%s\t%s\t%s\n' "$label" "$total" "$(awk -v t="$total" -v n="$n" 'BEGIN{printf "%.0f", t / n}')" >>"$CALLGRIND"
}
if [ "$QUICK" = 0 ]; then
  log "callgrind instruction counts"
  instructions raw-put-pipe 10000 0 "$BSD" -p "$PORT" -m put-pipe -n 10000
  instructions beanpole-pipe-put 10000 0 "$BENCH" -p "$PORT" -m pipe-put -n 10000
  instructions raw-rd-pipe 10000 1 "$BSD" -p "$PORT" -m rd-pipe -n 10000
  instructions beanpole-pipe-rd 10000 1 "$BENCH" -p "$PORT" -m pipe-rd -n 10000
  instructions raw-put-sync 10000 0 "$BSD" -p "$PORT" -m put-sync -n 10000
  instructions beanpole-sync-put 10000 0 "$BENCH" -p "$PORT" -m sync-put -n 10000
  instructions raw-rd-sync 10000 1 "$BSD" -p "$PORT" -m rd-sync -n 10000
  instructions beanpole-sync-rd 10000 1 "$BENCH" -p "$PORT" -m sync-rd -n 10000
  instructions beanpole-coro-put 10000 0 "$BENCH" -p "$PORT" -m coro-put -n 10000
  instructions beanpole-coro-rd 10000 1 "$BENCH" -p "$PORT" -m coro-rd -n 10000
  drain
fi

# ---------------------------------------------------------------------------- scale curve
SCALE_TSV=$OUT/scale.tsv
printf 'tasks\tmode\tops_per_s\tp50_us\tp99_us\trss_mb\n' >"$SCALE_TSV"
if [ "$QUICK" = 0 ]; then
  log "scale curve"
  for tasks in 1 10 100 1000; do
    for mode in put rd; do
      n=$(N 50000)
      drain
      [ "$mode" = rd ] && preload "$n"
      o=$("$BENCH" -p "$PORT" -m "coro-$mode" -n "$n" -c "$tasks")
      awk -v t="$tasks" -v m="$mode" '
        /^RESULT/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } ops = v["ops"] / v["secs"] }
        /^LATENCY/ { split($2, a, "="); split($3, b, "="); p50 = a[2]; p99 = b[2] }
        /^RSS/ { split($2, r, "="); rss = r[2] / 1024 }
        END { printf "%s\t%s\t%.0f\t%s\t%s\t%.1f\n", t, m, ops, p50, p99, rss }' <<<"$o" >>"$SCALE_TSV"
    done
  done
  drain
fi

# ------------------------------------------------------------- the pool: 1, 2 and 3 servers
# (issue 14; a block of its own.) Pipelined puts and reserve+delete pairs through an async_pool of
# 1, 2 and 3 servers (the private one and two more of the same kind, stopped by pid), beside the
# single-server async client in the same loop; the median of ROUNDS runs each. Then callgrind
# instructions per op for the pool over one server against the async client (the pool must stay
# within 5% of it; see bench/NOTES.md, "The pool").
POOL_TSV=$OUT/pool.tsv
POOL_PIDS=()
stop_pool_servers() {
  local p
  for p in "${POOL_PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  POOL_PIDS=()
}
pool_rows() {
  local ports=("$PORT") i p k mode n r extra runs client
  trap 'stop_private_beanstalkd; stop_pool_servers' EXIT
  for i in 1 2; do
    for _ in $(seq 20); do p=$((20000 + RANDOM % 40000)); port_in_use "$p" || break; done
    beanstalkd -l 127.0.0.1 -p "$p" >/dev/null 2>&1 &
    POOL_PIDS+=("$!")
    for _ in $(seq 50); do port_in_use "$p" && break; sleep 0.1; done
    port_in_use "$p" || { log "pool: cannot start a second server"; return 1; }
    ports+=("$p")
  done
  pool_drain() { for p in "${ports[@]}"; do "$BSD" -q -p "$p" -m drain >/dev/null 2>&1 || true; done; }
  printf 'client\tservers\tmode\tops_per_s\tcpu_us_per_op\n' >"$POOL_TSV"
  # field F of each RESULT line in FILE (ops/s: 1, CPU us/op: 2), its median
  median() {
    awk -v f="$1" '/^RESULT/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                     print (f == 1 ? v["ops"] / v["secs"] : v["cpu"] / v["ops"] * 1e6) }' "$2" |
      sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
  }
  for mode in put rd; do
    n=$(N 100000)
    for k in 0 1 2 3; do : >"$OUT/pool-$k-$mode.txt"; done
    # Rounds outermost, so that a slow spell of the shared machine falls on every row alike: the
    # pool over one server is compared with the async client (k = 0) run beside it.
    for r in $(seq "$ROUNDS"); do
      for k in 0 1 2 3; do
        extra=()
        [ "$k" -gt 1 ] && extra=(-P "$(IFS=,; echo "${ports[*]:1:k-1}")")
        runs=$OUT/pool-$k-$mode.txt
        pool_drain
        if [ "$mode" = rd ]; then
          for p in "${ports[@]:0:$((k > 0 ? k : 1))}"; do
            "$BSD" -q -p "$p" -m put-pipe -n $((n / (k > 0 ? k : 1) + 1))
          done
        fi
        if [ "$k" = 0 ]; then
          "$BENCH" -p "$PORT" -m "pipe-$mode" -n "$n" >>"$runs"
        else
          "$BENCH" -p "$PORT" "${extra[@]}" -m "pool-$mode" -n "$n" >>"$runs"
        fi
      done
    done
    for k in 0 1 2 3; do
      runs=$OUT/pool-$k-$mode.txt
      client=$([ "$k" = 0 ] && echo beanpole-pipe || echo "beanpole-pool$k")
      printf '%s\t%s\t%s\t%.0f\t%.2f\n' "$client" "$((k == 0 ? 1 : k))" "$mode" \
        "$(median 1 "$runs")" "$(median 2 "$runs")" >>"$POOL_TSV"
    done
  done
  pool_drain
  if [ "$QUICK" = 0 ]; then
    log "callgrind: the pool over one server against the async client"
    instructions beanpole-pool1-put 10000 0 "$BENCH" -p "$PORT" -m pool-put -n 10000
    instructions beanpole-pool1-rd 10000 1 "$BENCH" -p "$PORT" -m pool-rd -n 10000
    drain
  fi
  stop_pool_servers
}
# pool_section: the RESULTS.md part of the rows above.
pool_section() {
  echo
  echo "## The pool: 1, 2 and 3 servers (pipelined, median of $ROUNDS runs)"
  echo
  echo "Puts placed round-robin and reserve-with-timeout 0 swept across the servers, then delete;"
  echo "beanpole-pipe is the async client alone on the first server. What bounds each figure: bench/NOTES.md."
  echo
  echo "| client | servers | mode | ops/s | vs beanpole-pipe | client CPU us/op |"
  echo "|---|---:|---|---:|---:|---:|"
  awk -F'\t' 'NR > 1 { if ($1 == "beanpole-pipe") base[$3] = $4
                 printf "| %s | %s | %s | %s | %.2fx | %s |\n", $1, $2, $3, $4, $4 / base[$3], $5 }' \
    "$POOL_TSV"
}
log "the pool: 1, 2 and 3 servers"
pool_rows

# ------------------------------------------------------------ latency under a waiting reserve
log "put latency with and without a waiting reserve"
LATENCY=$("$BENCH" -p "$PORT" -m reserve-latency -n "$(N 20000)")

# ------------------------------------------------------------------- TLS rows (bench/tls_rows.sh)
. "$ROOT/bench/tls_rows.sh"
trap 'stop_tls_terminator; stop_private_beanstalkd' EXIT
tls_rows

# ---------------------------------------------------------------------------- large bodies
LARGE=""
if [ "$QUICK" = 0 ]; then
  log "large bodies: 10,000 x 1 MiB each way"
  drain
  LARGE=$("$BENCH" -p "$PORT" -m large -n "$(N 10000)" -s 1048576 -c 16)
fi

# ---------------------------------------------------------------------- codec micro-benchmarks
log "codec micro-benchmarks"
CODEC=$("$BUILD/beanpole-codec-bench" --benchmark_min_time=0.2 2>/dev/null | sed -n '/^Benchmark/,$p')

# ----------------------------------------------------------------------------------- chart
log "chart"
# colour (as 0xRRGGBB in decimal): beanpole's rows orange, the raw-socket driver grey, others blue
awk 'NR > 1 && NF >= 11 && $5 ~ /^[0-9]+$/ {
       c = $1 ~ /^beanpole/ ? 15234862 : ($1 ~ /^c-raw/ ? 9079434 : 3832789)
       print $1 "-" $2, $5, c }' "$TABLE" >"$OUT/chart.dat"
gnuplot <<EOF
set terminal pngcairo size 1200,700 noenhanced font ",10"
set output "$ROOT/bench/chart.png"
set title "beanstalkd clients on one server: ops/s (median of $ROUNDS rounds; rd = reserve+delete pairs)"
set style fill solid 0.8
set boxwidth 0.7
set xtics rotate by -50
set ylabel "ops/s"
set grid ytics
set rmargin 10
set bmargin 12
unset key
plot "$OUT/chart.dat" using 0:2:3:xtic(1) with boxes lc rgb variable
EOF

# ------------------------------------------------------------------------------ RESULTS.md
R=$ROOT/bench/RESULTS.md
{
  echo "# beanpole benchmark results"
  echo
  echo "Generated by \`bench/run.sh -r $ROUNDS -s $SCALE\` on $(date -Is). Ratios within one run are"
  echo "the anchor: absolute numbers move from run to run on this shared 2-core machine."
  echo
  echo '```'
  cat "$OUT/harness/versions.txt"
  echo "beanpole: $VERSION, g++ $(g++ -dumpfullversion), Release"
  echo '```'
  echo
  echo "![ops/s per client and mode](chart.png)"
  echo
  echo "## Side by side (the shared harness)"
  echo
  echo '```'
  cat "$TABLE"
  echo '```'
  echo
  echo "## Targets"
  echo
  echo "| row | target | this run |"
  echo "|---|---|---|"
  echo "| beanpole-pipe put | >= 0.95x c-raw-pipe put | $(ratios beanpole-pipe put c-raw-pipe) |"
  echo "| beanpole-pipe rd | >= 0.90x c-raw-pipe rd | $(ratios beanpole-pipe rd c-raw-pipe) |"
  echo "| beanpole-sync put | >= 0.95x c-raw-sync put | $(ratios beanpole-sync put c-raw-sync) |"
  echo "| beanpole-sync rd | >= 0.95x c-raw-sync rd | $(ratios beanpole-sync rd c-raw-sync) |"
  echo "| beanpole-coro put | >= 0.85x c-raw-pipe put | $(ratios beanpole-coro put c-raw-pipe) |"
  echo "| beanpole-coro rd | >= 0.85x c-raw-pipe rd | $(ratios beanpole-coro rd c-raw-pipe) |"
  echo
  echo "Client CPU target: cli_us/op <= 1.5x the raw driver's in the same mode; RSS <= 8 MB."
  if [ -s "$CALLGRIND" ]; then
    echo
    echo "## Instructions per op (valgrind --tool=callgrind, user space, start-up included)"
    echo
    echo "| run | total instructions | per op |"
    echo "|---|---:|---:|"
    awk -F'\t' '{ printf "| %s | %s | %s |\n", $1, $2, $3 }' "$CALLGRIND"
  fi
  if [ "$(wc -l <"$SCALE_TSV")" -gt 1 ]; then
    echo
    echo "## Scale curve: coroutine tasks on one client (async_client, default in-flight cap)"
    echo
    echo "Producers (\`put\`: each task puts and awaits the reply) and then workers (\`rd\`: each task reserves"
    echo "with timeout 0 and deletes), $(N 50000) ops per step; latency is per put, or per reserve+delete pair."
    echo
    echo "| tasks | mode | ops/s | p50 us | p99 us | RSS MB |"
    echo "|---:|---|---:|---:|---:|---:|"
    awk -F'\t' 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' "$SCALE_TSV"
  fi
  [ -s "$POOL_TSV" ] && pool_section
  echo
  echo "## Put latency while a reserve waits on the same client"
  echo
  echo '```'
  echo "$LATENCY" | grep LATENCY
  echo '```'
  if [ -n "$LARGE" ]; then
    echo
    echo "## Large bodies: 1 MiB, put + reserve + delete, 16 tasks"
    echo
    echo '```'
    echo "$LARGE"
    echo '```'
  fi
  tls_results_section
  echo
  echo "## Codec micro-benchmarks (Google Benchmark)"
  echo
  echo '```'
  echo "$CODEC"
  echo '```'
  if [ -f "$ROOT/bench/NOTES.md" ]; then
    echo
    cat "$ROOT/bench/NOTES.md"
  fi
} >"$R"
log "wrote $R and bench/chart.png (raw data in $OUT)"
