#!/usr/bin/env bash
# Pier's main job: start pierd, make the offline busybox base image, and show it
# through both the pier CLI and the real docker CLI (when installed).
set -euo pipefail
cd "$(dirname "$0")/.."
root=${PIER_DEMO_ROOT:-/tmp/pier-demo}
sock=$root/pier.sock
mkdir -p "$root"
./bin/pierd --data-root "$root/data" --exec-root "$root/exec" -H "unix://$sock" --pidfile "$root/pierd.pid" --log-format text >"$root/pierd.log" 2>&1 &
trap 'kill $(cat "$root/pierd.pid" 2>/dev/null) 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
export PIER_HOST=unix://$sock
./bin/pier version
./bin/pier image busybox
./bin/pier images
./bin/pier history busybox
./bin/pier save -o "$root/busybox.tar" busybox && ls -l "$root/busybox.tar"
if command -v docker >/dev/null; then DOCKER_HOST=unix://$sock docker images; fi
echo "pierd log: $root/pierd.log"
