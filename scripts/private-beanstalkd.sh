# Sourced by the other scripts: start_private_beanstalkd starts beanstalkd on a free loopback
# port (never 11300), exports BEANSTALKD_ADDR=127.0.0.1:PORT and BEANSTALKD_PID, and arranges
# for the server to be stopped, by its pid, when the calling script exits.

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop_private_beanstalkd() {
  if [ -n "${BEANSTALKD_PID:-}" ] && kill -0 "$BEANSTALKD_PID" 2>/dev/null; then
    kill "$BEANSTALKD_PID" 2>/dev/null || true
    wait "$BEANSTALKD_PID" 2>/dev/null || true
  fi
}

start_private_beanstalkd() {
  local port tries
  for tries in $(seq 1 20); do
    port=$(( 20000 + RANDOM % 40000 ))
    port_in_use "$port" && continue
    beanstalkd -l 127.0.0.1 -p "$port" "$@" >/dev/null 2>&1 &
    BEANSTALKD_PID=$!
    for _ in $(seq 1 50); do
      kill -0 "$BEANSTALKD_PID" 2>/dev/null || break
      port_in_use "$port" && break
      sleep 0.1
    done
    if kill -0 "$BEANSTALKD_PID" 2>/dev/null && port_in_use "$port"; then
      export BEANSTALKD_ADDR="127.0.0.1:$port" BEANSTALKD_PID
      trap stop_private_beanstalkd EXIT
      return 0
    fi
    stop_private_beanstalkd
  done
  echo "could not start a private beanstalkd" >&2
  return 1
}
