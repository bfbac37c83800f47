#!/usr/bin/env bash
# Pier's main job: start pierd, make the offline busybox base image, show it through
# the pier CLI and the real docker CLI (when installed), run containers from it (run,
# exec, logs, stats, stop, commit, rm), serve a page from a named volume on a user
# network through a published port (container DNS, the page fetched by name and from
# the host), run a service of three replicas balanced behind one published port, build an
# image from a Dockerfile (again from the cache), save the image, send it through a
# `pier registry` of its own and back, and reach pierd over TCP with mutual TLS.
set -euo pipefail
cd "$(dirname "$0")/.."
root=${PIER_DEMO_ROOT:-/tmp/pier-demo}
port=${PIER_DEMO_REGISTRY_PORT:-5055}
sock=$root/pier.sock
mkdir -p "$root"
web_port=${PIER_DEMO_WEB_PORT:-18088}
svc_port=${PIER_DEMO_SERVICE_PORT:-18089}
tls_port=${PIER_DEMO_TLS_PORT:-12376}
# Certificates for the TLS listener: a CA, the daemon's and a client's (openssl underneath).
./bin/pier tls generate --force --out "$root/certs" --host 127.0.0.1,localhost >/dev/null
./bin/pierd --data-root "$root/data" --exec-root "$root/exec" -H "unix://$sock" \
  -H "tcp://127.0.0.1:$tls_port" --tlsverify --tlscacert "$root/certs/ca.pem" --tlscert "$root/certs/server-cert.pem" --tlskey "$root/certs/server-key.pem" \
  --pidfile "$root/pierd.pid" --log-format text --bridge pierdemo0 >"$root/pierd.log" 2>&1 &
./bin/pier registry serve --addr "127.0.0.1:$port" --root "$root/registry" >"$root/registry.log" 2>&1 &
registry_pid=$!
# Containers outlive pierd (live restore): remove the demo's before stopping it.
trap './bin/pier -H "unix://$sock" swarm leave --force >/dev/null 2>&1 || true; ./bin/pier -H "unix://$sock" rm -f -v demo-web demo-site >/dev/null 2>&1 || true; ./bin/pier -H "unix://$sock" network rm demo-net >/dev/null 2>&1 || true; ./bin/pier -H "unix://$sock" volume rm demo-pages >/dev/null 2>&1 || true; kill $(cat "$root/pierd.pid" 2>/dev/null) $registry_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
export PIER_HOST=unix://$sock
set -x
./bin/pier version
./bin/pier image busybox
./bin/pier images
./bin/pier history busybox
./bin/pier run --rm busybox echo hello from a container
./bin/pier run -d --name demo-web -m 64m --pids-limit 50 busybox sh -c 'while true; do date; sleep 1; done'
./bin/pier exec demo-web sh -c 'echo "uid $(id -u) in $(hostname)"; cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || true'
./bin/pier ps
./bin/pier stats --no-stream demo-web
./bin/pier logs --tail 2 demo-web
./bin/pier stop -t 1 demo-web
./bin/pier commit -m "demo commit" demo-web demo/committed:1
./bin/pier rm demo-web
./bin/pier network create demo-net
./bin/pier volume create demo-pages
./bin/pier run --rm -v demo-pages:/pages busybox sh -c 'echo "hello from a named volume" > /pages/index.html'
./bin/pier run -d --name demo-site --network demo-net --network-alias site -v demo-pages:/pages:ro -p "127.0.0.1:$web_port:80" busybox httpd -f -p 80 -h /pages
./bin/pier run --rm --network demo-net busybox sh -c 'nslookup site >/dev/null && wget -qO- http://site/'
./bin/pier port demo-site
for _ in $(seq 20); do curl -fsS "http://127.0.0.1:$web_port/" && break; sleep 0.1; done
./bin/pier network ls
./bin/pier volume ls
./bin/pier rm -f demo-site
./bin/pier network rm demo-net
./bin/pier volume rm demo-pages
./bin/pier swarm init
./bin/pier service create --name demo-svc --replicas 3 --stop-grace-period 1s -p "$svc_port:80" busybox sh -c 'mkdir /w; hostname > /w/index.html; httpd -f -p 80 -h /w'
./bin/pier service ls
for _ in 1 2 3 4 5 6; do curl -fsS "http://127.0.0.1:$svc_port/"; done
./bin/pier service scale demo-svc=1
./bin/pier service ps demo-svc
./bin/pier service rm demo-svc
./bin/pier swarm leave --force
mkdir -p "$root/ctx" && printf 'hello from a build\n' > "$root/ctx/greeting.txt"
printf 'FROM busybox\nCOPY greeting.txt /greeting.txt\nRUN wc -c /greeting.txt\nCMD ["cat", "/greeting.txt"]\n' > "$root/ctx/Dockerfile"
./bin/pier build -t demo/built:1 "$root/ctx"
./bin/pier build -t demo/built:1 "$root/ctx"
./bin/pier run --rm demo/built:1
if command -v docker >/dev/null; then DOCKER_HOST=unix://$sock docker run --rm demo/committed:1 sh -c 'echo "the real docker CLI runs containers on pierd too"'; fi
./bin/pier save -o "$root/busybox.tar" busybox
if command -v docker >/dev/null; then DOCKER_HOST=unix://$sock docker image inspect -f '{{.Id}} {{.Config.Cmd}}' busybox; fi
./bin/pier tag busybox "127.0.0.1:$port/demo/busybox:latest"
./bin/pier push "127.0.0.1:$port/demo/busybox:latest"
./bin/pier rmi "127.0.0.1:$port/demo/busybox:latest"
./bin/pier pull "127.0.0.1:$port/demo/busybox:latest"
./bin/pier images
./bin/pier -H "tcp://127.0.0.1:$tls_port" --tlsverify --tlscacert "$root/certs/ca.pem" --tlscert "$root/certs/cert.pem" --tlskey "$root/certs/key.pem" ps -a
{ set +x; } 2>/dev/null
echo "logs: $root/pierd.log $root/registry.log"
