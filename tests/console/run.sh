#!/usr/bin/env bash
# The console's browser test: installs playwright-core from the lockfile (npm ci), then runs
# console.test.mjs with Debian's /usr/bin/chromium.
#   run.sh BEANPOLE BEANSTALKD SCREENSHOT_DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ -x /usr/bin/chromium ]] || { echo "chromium is not installed (scripts/setup.sh)" >&2; exit 1; }
bp=$(realpath "$1")
shots=$(realpath -m "$3")
cd "$here"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
exec node console.test.mjs "$bp" "$2" "$shots"
