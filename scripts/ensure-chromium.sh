#!/usr/bin/env bash
# The browser suite drives Debian's Chromium through playwright-core; installs it when missing
# (non-interactive, waiting for another install's dpkg lock to be released).
set -euo pipefail
CHROMIUM=/usr/bin/chromium
[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" != 0 ]; then echo "chromium not found: apt-get install -y chromium (as root)" >&2; exit 1; fi
echo "[chromium] installing Debian's chromium for the browser suite" >&2
export DEBIAN_FRONTEND=noninteractive
for attempt in $(seq 1 60); do
  if apt-get -o DPkg::Lock::Timeout=600 install -y -q chromium >&2; then break; fi
  # Package lists may be missing on a fresh machine.
  apt-get -o DPkg::Lock::Timeout=600 update -q >&2 || true
  [ "$attempt" -lt 60 ] || exit 1
  sleep 5
done
[ -x "$CHROMIUM" ] || { echo "chromium still missing at $CHROMIUM" >&2; exit 1; }
