#!/usr/bin/env bash
# Installs Debian's redis-server when no redis-server is on PATH (make run, make test and CI need one;
# RUN_REDIS_SERVER may name another binary).
set -euo pipefail
server="${RUN_REDIS_SERVER:-redis-server}"
if command -v "$server" >/dev/null 2>&1; then
  exit 0
fi
echo "setup: $server not found; installing Debian's redis-server"
bash "$(dirname "$0")/apt-install.sh" redis-server
# Debian's package starts a system service on 6379; the stack and the tests start their own servers.
command -v "$server" >/dev/null 2>&1
