#!/usr/bin/env bash
# Installs Debian's Node.js and npm when node or npm is missing (make setup builds the operator console
# with them). Uses sudo only when not root and sudo exists.
set -euo pipefail
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  exit 0
fi
echo "setup: node or npm not found; installing Debian's nodejs and npm"
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "setup: not root and no sudo: install nodejs and npm (apt-get install nodejs npm) and run again" >&2
  exit 1
fi
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends nodejs npm
node --version && npm --version
