#!/usr/bin/env bash
# Installs Debian's chromium for the console's browser tests when CONSOLE_CHROMIUM (default
# /usr/bin/chromium) is missing: Playwright drives it, and never downloads a browser of its own.
set -euo pipefail
browser="${CONSOLE_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$browser" ]; then
  exit 0
fi
echo "setup: $browser not found; installing Debian's chromium"
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "setup: not root and no sudo: install chromium (apt-get install chromium) and run again" >&2
  exit 1
fi
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
[ -x "$browser" ]
