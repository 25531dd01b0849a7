#!/usr/bin/env bash
# Installs the browser the UI tests drive: Debian's chromium, used through Playwright with
# executable_path=/usr/bin/chromium (Playwright's own browser download is never used).
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium
/usr/bin/chromium --version
