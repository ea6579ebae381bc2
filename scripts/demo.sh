#!/usr/bin/env bash
# Installs what is missing, builds beanpole, starts a private beanstalkd on a free loopback port
# and runs the demo: a producer putting jobs and a worker reserving and deleting them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target demo beanpole-cli
. scripts/private-beanstalkd.sh
start_private_beanstalkd
echo "[demo] private beanstalkd (pid $BEANSTALKD_PID) on $BEANSTALKD_ADDR"
./build/examples/demo "$BEANSTALKD_ADDR"
