#!/usr/bin/env bash
# The README's first command: install and build everything, then run Pier's main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/demo.sh
