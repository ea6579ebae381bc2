# The servers and the test runner shared by the CLI test scripts (run_tests.sh, pool_tests.sh).
# Sourced. Every server a test starts listens on a free loopback port and is stopped by PID.

# A TCP port nothing listens on right now: the kernel picks it, then it is released.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# accepting PORT TRIES [PID]: waits, in steps of 50 ms and TRIES of them at most, until something
# accepts on 127.0.0.1:PORT. False if nothing does, or as soon as process PID (if given) ends.
accepting() {
  local i
  for ((i = 0; i < $2; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    [[ -n ${3:-} ]] && ! kill -0 "$3" 2>/dev/null && return 1
    sleep 0.05
  done
  return 1
}

SERVER_PIDS=()
# start_listener VAR SCHEME TRIES LAUNCH [ARGS...]: runs `LAUNCH PORT ARGS...` in the background,
# which must exec a process that listens on 127.0.0.1:PORT, on a free port, until one accepts
# within TRIES steps (5 ports at most: another process may take a free port first). VAR gets
# SCHEME127.0.0.1:PORT; the process is stopped with the servers.
start_listener() {
  local var=$1 scheme=$2 tries=$3 launch=$4 port pid attempt
  shift 4
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    "$launch" "$port" "$@" </dev/null &
    pid=$!
    if accepting "$port" "$tries" "$pid"; then
      SERVER_PIDS+=("$pid")
      printf -v "$var" '%s127.0.0.1:%s' "$scheme" "$port"
      return 0
    fi
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  return 1
}

# launch_beanstalkd PORT [beanstalkd options...]: becomes a server on that port.
launch_beanstalkd() {
  local port=$1
  shift
  exec "$BEANSTALKD" -l 127.0.0.1 -p "$port" "$@" >/dev/null 2>&1
}

# start_server VAR [beanstalkd options...]: starts a server on a free port; VAR gets its address.
start_server() {
  start_listener "$1" "" 50 launch_beanstalkd "${@:2}" || { echo "cannot start beanstalkd" >&2; return 1; }
}

# start_server_on VAR PORT [beanstalkd options...]: a server on that port (a restart of one
# that was stopped); VAR gets its address.
start_server_on() {
  local var=$1 port=$2
  shift 2
  launch_beanstalkd "$port" "$@" </dev/null &
  SERVER_PIDS+=("$!")
  if accepting "$port" 100; then
    printf -v "$var" '127.0.0.1:%s' "$port"
    return 0
  fi
  echo "cannot start beanstalkd on port $port" >&2
  return 1
}

stop_servers() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  SERVER_PIDS=()
}

# run_test_functions SCRIPT RUN_ONE_ARGS... -- [TEST_NAME...]: runs each test_* function (or the
# ones named) as `bash SCRIPT RUN_ONE_ARGS... --run-one NAME`, in a process of its own under a
# hard timeout of $TEST_TIMEOUT seconds. Prints PASS/FAIL per test and "N passed, N failed";
# returns non-zero when a test failed.
#
# With $BEANPOLE_CLI_SHARD=K/N and no names, only every Nth test from the Kth runs, so that CTest
# can run the shards side by side; the shards leave out the tests listed in $RUN_ALONE, which have
# a CTest entry of their own (naming them).
run_test_functions() {
  local script=$1 run_one_args=() tests=() t start
  shift
  while (($# > 0)) && [[ $1 != -- ]]; do run_one_args+=("$1"); shift; done
  (($# > 0)) && shift
  if (($# > 0)); then
    tests=("$@")
  else
    local all=() shard=${BEANPOLE_CLI_SHARD:-1/1} i=0
    mapfile -t all < <(declare -F | awk '{print $3}' | grep '^test_')
    local k=${shard%/*} n=${shard#*/}
    [[ $k =~ ^[0-9]+$ && $n =~ ^[0-9]+$ ]] && ((k >= 1 && k <= n)) ||
      { echo "BEANPOLE_CLI_SHARD must be K/N with 1 <= K <= N, not '$shard'" >&2; return 2; }
    for t in "${all[@]}"; do
      [[ -n ${BEANPOLE_CLI_SHARD:-} && " ${RUN_ALONE[*]:-} " == *" $t "* ]] && continue
      ((i++ % n == k - 1)) && tests+=("$t")
    done
  fi
  local passed=0 failed=0 failures=() log
  log=$(mktemp)
  for t in "${tests[@]}"; do
    start=$(date +%s%N)
    if timeout -k 5 "$TEST_TIMEOUT" bash "$script" "${run_one_args[@]}" --run-one "$t" 2>"$log"; then
      passed=$((passed + 1))
      printf 'PASS %-60s %6d ms\n' "$t" $((($(date +%s%N) - start) / 1000000))
    else
      failed=$((failed + 1))
      failures+=("$t")
      printf 'FAIL %s\n' "$t"
      sed 's/^/    /' "$log"
    fi
  done
  rm -f "$log"
  echo "$passed passed, $failed failed"
  ((failed == 0)) || { echo "failed: ${failures[*]}"; return 1; }
}
