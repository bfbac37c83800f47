#!/usr/bin/env bash
# Pier's main job: start pierd, make the offline busybox base image, show it through
# the pier CLI and the real docker CLI (when installed), save it, and send it through
# a `pier registry` of its own and back.
set -euo pipefail
cd "$(dirname "$0")/.."
root=${PIER_DEMO_ROOT:-/tmp/pier-demo}
port=${PIER_DEMO_REGISTRY_PORT:-5055}
sock=$root/pier.sock
mkdir -p "$root"
./bin/pierd --data-root "$root/data" --exec-root "$root/exec" -H "unix://$sock" --pidfile "$root/pierd.pid" --log-format text >"$root/pierd.log" 2>&1 &
./bin/pier registry serve --addr "127.0.0.1:$port" --root "$root/registry" >"$root/registry.log" 2>&1 &
registry_pid=$!
trap 'kill $(cat "$root/pierd.pid" 2>/dev/null) $registry_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
export PIER_HOST=unix://$sock
set -x
./bin/pier version
./bin/pier image busybox
./bin/pier images
./bin/pier history busybox
./bin/pier save -o "$root/busybox.tar" busybox
if command -v docker >/dev/null; then DOCKER_HOST=unix://$sock docker image inspect -f '{{.Id}} {{.Config.Cmd}}' busybox; fi
./bin/pier tag busybox "127.0.0.1:$port/demo/busybox:latest"
./bin/pier push "127.0.0.1:$port/demo/busybox:latest"
./bin/pier rmi "127.0.0.1:$port/demo/busybox:latest"
./bin/pier pull "127.0.0.1:$port/demo/busybox:latest"
./bin/pier images
{ set +x; } 2>/dev/null
echo "logs: $root/pierd.log $root/registry.log"
