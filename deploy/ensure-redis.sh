#!/usr/bin/env bash
# Installs Debian's redis-server when no redis-server is on PATH (make run, make test and CI need one;
# RUN_REDIS_SERVER may name another binary). Uses sudo only when not root and sudo exists.
set -euo pipefail
server="${RUN_REDIS_SERVER:-redis-server}"
if command -v "$server" >/dev/null 2>&1; then
  exit 0
fi
echo "setup: $server not found; installing Debian's redis-server"
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "setup: not root and no sudo: install redis-server (apt-get install redis-server) and run again" >&2
  exit 1
fi
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends redis-server
# Debian's package starts a system service on 6379; the stack and the tests start their own servers.
command -v "$server" >/dev/null 2>&1
