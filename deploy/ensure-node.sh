#!/usr/bin/env bash
# Installs Debian's Node.js and npm when node or npm is missing (make setup builds the operator console
# with them); the console's toolchain (Vite 6, TypeScript 5) needs Node 18 or newer, Debian 12's own.
set -euo pipefail
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup: node or npm not found; installing Debian's nodejs and npm"
  bash "$(dirname "$0")/apt-install.sh" nodejs npm
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "setup: Node $(node --version) is too old for the console's build: Node 18 or newer is needed" >&2
  exit 1
fi
