# Sourced by bench/run.sh: the TLS rows (issue 12). beanstalkd behind Debian's stunnel4 on
# loopback, beside the same server addressed plain: pipelined puts and pipelined reserve+delete,
# ROUNDS alternating rounds of each, the median kept. Needs the caller's N, BENCH, PORT, OUT,
# ROUNDS, ROOT, drain, preload and log.
#
#   tls_rows            writes $OUT/tls.tsv (variant mode ops_per_s cpu_us_per_op
#                       terminator_cpu_us_per_op)
#   tls_results_section prints the RESULTS.md section for it

TLS_STUNNEL_PID=
stop_tls_terminator() {
  if [ -n "$TLS_STUNNEL_PID" ] && kill -0 "$TLS_STUNNEL_PID" 2>/dev/null; then
    kill "$TLS_STUNNEL_PID" 2>/dev/null || true
    wait "$TLS_STUNNEL_PID" 2>/dev/null || true
  fi
  TLS_STUNNEL_PID=
}

# start_tls_terminator DIR: stunnel4 on a free loopback port before $PORT, with certificates made
# in DIR; sets TLS_PORT.
start_tls_terminator() {
  local dir=$1 tries
  bash "$ROOT/tests/support/make_test_certs.sh" "$dir" >/dev/null 2>&1
  for tries in $(seq 1 20); do
    TLS_PORT=$((20000 + RANDOM % 40000))
    port_in_use "$TLS_PORT" && continue
    printf 'foreground = yes\npid =\n[beanstalkd]\naccept = 127.0.0.1:%s\nconnect = 127.0.0.1:%s\ncert = %s/server.pem\nkey = %s/server.key\n' \
      "$TLS_PORT" "$PORT" "$dir" "$dir" >"$dir/stunnel.conf"
    stunnel4 "$dir/stunnel.conf" </dev/null >"$dir/stunnel.log" 2>&1 &
    TLS_STUNNEL_PID=$!
    for _ in $(seq 1 50); do
      kill -0 "$TLS_STUNNEL_PID" 2>/dev/null || break
      port_in_use "$TLS_PORT" && return 0
      sleep 0.1
    done
    stop_tls_terminator
  done
  log "could not start stunnel4: $(cat "$dir/stunnel.log")"
  return 1
}

# The terminator's user+system CPU so far, in clock ticks.
terminator_ticks() { awk '{ print $14 + $15 }' "/proc/$TLS_STUNNEL_PID/stat"; }

tls_rows() {
  local pki=$OUT/pki n raw=$OUT/tls-raw.tsv round mode variant o t0 ticks
  local hz
  hz=$(getconf CLK_TCK)
  start_tls_terminator "$pki" || return 1
  n=$(N 100000)
  : >"$raw"
  log "TLS rows: $ROUNDS rounds of $n pipelined puts and reserve+delete, plain and through stunnel4"
  for round in $(seq 1 "$ROUNDS"); do
    for mode in put rd; do
      for variant in plain tls; do
        drain
        [ "$mode" = rd ] && preload "$n"
        t0=$(terminator_ticks)
        if [ "$variant" = tls ]; then
          o=$("$BENCH" -p "$TLS_PORT" -T "$pki/ca.pem" -m "pipe-$mode" -n "$n")
        else
          o=$("$BENCH" -p "$PORT" -m "pipe-$mode" -n "$n")
        fi
        ticks=$(($(terminator_ticks) - t0))
        awk -v v="$variant" -v m="$mode" -v t="$ticks" -v hz="$hz" '/^RESULT/ {
              for (i = 1; i <= NF; i++) { split($i, kv, "="); r[kv[1]] = kv[2] }
              printf "%s\t%s\t%.0f\t%.2f\t%.2f\n", v, m, r["ops"] / r["secs"],
                     r["cpu"] * 1e6 / r["ops"], t / hz * 1e6 / r["ops"] }' <<<"$o" >>"$raw"
      done
    done
  done
  stop_tls_terminator
  drain
  # The median round of each variant and mode (by ops/s).
  sort -t$'\t' -k1,1 -k2,2 -k3,3n "$raw" | awk -F'\t' '
    { key = $1 "\t" $2; rows[key, ++count[key]] = $0 }
    END { for (k in count) print rows[k, int((count[k] + 1) / 2)] }' | sort >"$OUT/tls.tsv"
}

tls_results_section() {
  [ -s "$OUT/tls.tsv" ] || return 0
  echo
  echo "## TLS: beanstalkd behind stunnel4 on loopback (median of $ROUNDS rounds)"
  echo
  echo "Pipelined puts and reserve+delete pairs with the async client, addressed plain and through"
  echo "stunnel4 (TLS 1.3, the same server); cli_us/op is beanpole's CPU per op, stunnel us/op the"
  echo "terminator's (both share the 2 cores with beanstalkd). See NOTES.md."
  echo
  echo "| mode | plain ops/s | TLS ops/s | TLS / plain | plain cli_us/op | TLS cli_us/op | stunnel us/op |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  awk -F'\t' '{ ops[$1, $2] = $3; cpu[$1, $2] = $4; term[$1, $2] = $5 }
    END { split("put rd", modes, " ")
          for (i = 1; i <= 2; i++) { m = modes[i]
            if (ops["plain", m] > 0)
              printf "| pipe %s | %s | %s | %.2fx | %s | %s | %s |\n", m, ops["plain", m], ops["tls", m],
                     ops["tls", m] / ops["plain", m], cpu["plain", m], cpu["tls", m], term["tls", m] } }' "$OUT/tls.tsv"
}
