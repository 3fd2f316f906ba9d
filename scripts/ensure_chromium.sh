#!/usr/bin/env bash
# Browser tests drive Debian's chromium through Playwright (no browser download: Playwright's own
# browser builds cannot be fetched here). Install it when missing and we are allowed to (root + apt).
set -uo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "[bootstrap] installing Debian chromium for browser tests"
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || echo "[bootstrap] chromium install failed"
else
  echo "[bootstrap] chromium not found and cannot be installed (not root): browser tests will fail under CI"
fi
