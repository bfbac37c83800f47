#!/usr/bin/env bash
# The README's second command (npm test): build, then every unit and integration test.
# Tests run as root: they mount overlayfs and loop devices in their own temp dirs.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build >/dev/null
node scripts/check-imports.mjs
files=$(find dist/src dist/test -name '*.test.js' | sort)
exec node --test --test-concurrency=2 --test-timeout=300000 $files
