#!/usr/bin/env bash
# Runs one libFuzzer target for a fixed time, as ctest's fuzz tests do:
#   run_fuzzer.sh FUZZER SECONDS SEED_DIR... [-- LIBFUZZER_OPTION...]
# The committed seed directories are only read: libFuzzer writes the inputs it finds into the
# first corpus directory it is given, so that one is a fresh temporary directory, removed after.
# Whatever breaks the target is saved as FUZZER-artifacts/crash-* (or leak-, timeout-, oom-)
# in the working directory; to keep it as a regression input, copy it into the target's
# tests/fuzz/corpus/ directory as regress-<what it found>.
set -euo pipefail
fuzzer=$1 seconds=$2
shift 2
seeds=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do seeds+=("$1"); shift; done
[ $# -gt 0 ] && shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts="$PWD/$(basename "$fuzzer")-artifacts"
mkdir -p "$artifacts"
# -timeout: one input taking 10 s is a hang; the sanitizers' reports end the run (exit non-zero).
"$fuzzer" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$@" "$work" "${seeds[@]}"
