#!/usr/bin/env bash
# Browser tests of the labelling, analysis and library pages: playwright-core drives Debian's chromium
# against a live `saxdetect serve` on a throw-away data home (label.test.js, analyze.test.js, library.test.js). Usage: run.sh <path to saxdetect binary>.
# Never downloads a browser; installs playwright-core from package-lock.json when missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
binary="$(realpath "${1:?usage: run.sh <saxdetect binary>}")"
chromium="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium" ] || { echo "browser test: $chromium not found (apt-get install chromium)" >&2; exit 1; }

if [ ! -d "$here/node_modules/playwright-core" ]; then
  (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

# Screenshots go next to the binary (the build folder).
export SAXDETECT_BIN="$binary" CHROMIUM="$chromium"
export SCREENSHOT_DIR="${SCREENSHOT_DIR:-$(dirname "$binary")/browser}"
node "$here/label.test.js"
node "$here/analyze.test.js"
node "$here/library.test.js"
