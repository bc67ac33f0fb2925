#!/usr/bin/env bash
# Install what the real-browser test (tests/browser/) needs from the system: Debian's chromium.
#
# Idempotent: does nothing when /usr/bin/chromium already exists. Runs `apt-get update` at most
# once, and only when chromium has to be installed. Installs no Python packages: playwright and
# jupyterlab come from the project's `browser` extra; `playwright install` is never used (it
# downloads its own browser, which does not work offline) — the test drives /usr/bin/chromium.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    echo "install-browser: $CHROMIUM already present: $("$CHROMIUM" --version 2>/dev/null || echo '?')"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-browser: need root (or sudo) to apt-get install chromium" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-browser: installing chromium with apt-get"
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium

if [ ! -x "$CHROMIUM" ]; then
    echo "install-browser: apt-get finished but $CHROMIUM is missing" >&2
    exit 1
fi
echo "install-browser: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
