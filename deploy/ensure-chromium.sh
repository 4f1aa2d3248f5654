#!/usr/bin/env bash
# Installs Debian's chromium for the console's browser tests when CONSOLE_CHROMIUM (default
# /usr/bin/chromium) is missing: Playwright drives it, and never downloads a browser of its own.
set -euo pipefail
browser="${CONSOLE_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$browser" ]; then
  exit 0
fi
echo "setup: $browser not found; installing Debian's chromium"
bash "$(dirname "$0")/apt-install.sh" chromium fonts-dejavu-core
[ -x "$browser" ]
