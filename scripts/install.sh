#!/usr/bin/env bash
# Installs everything Pier needs on a fresh Debian 12 machine and builds it.
# Debian packages: runc (OCI runtime), busybox-static (offline base image),
# btrfs-progs (btrfs snapshotter), zstd (zstd layers), iproute2/iptables and
# containernetworking-plugins (networks: the CNI bridge plugin), docker-compose (a real
# compose client in the network and volume tests),
# tini (--init: tini-static), procps (ps for `top`), curl (the demo and the network
# benchmark fetch from published ports), bzip2/xz-utils (`cp` of compressed
# archives), gcc/libc6-dev (the static pier-monitor), libseccomp-dev (libseccomp.a for
# pier-nsexec, the exec path without runc), tmux (tests drive `run -it` in a
# real terminal), docker.io (dockerd to compare and benchmark against; never started by
# Pier itself), docker-registry and skopeo (the CNCF registry and a second client, for
# registry compatibility tests and benchmarks),
# hyperfine (benchmark timing), openssl (`pier tls generate`). Then npm packages and the build.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
pkgs=(runc busybox-static openssl btrfs-progs zstd xz-utils bzip2 iproute2 iptables containernetworking-plugins docker-compose tini procps curl gcc libc6-dev libseccomp-dev tmux util-linux docker.io docker-registry skopeo hyperfine)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
npm ci --no-audit --no-fund
npm run build
