#!/usr/bin/env bash
# apt-get install of Debian packages for the ensure-*.sh scripts: through sudo when not root (and sudo
# exists), or a clear message of what to install by hand. Usage: apt-install.sh PACKAGE...
set -euo pipefail
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "setup: not root and no sudo: install $* (apt-get install $*) and run again" >&2
  exit 1
fi
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@"
