#!/usr/bin/env bash
# What the tests need, installed: Debian's chromium and chromium-driver for the web page's
# browser tests (tests/integration/test_web.py; from apt, no browser download), then the
# project with its test extra (pyproject.toml). Run from anywhere: `bash tests/install.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update && apt-get install -y chromium chromium-driver
    elif command -v sudo >/dev/null; then
        sudo apt-get update && sudo apt-get install -y chromium chromium-driver
    else
        echo "tests/install.sh: chromium and chromium-driver are not installed and there is no root or sudo to install them (apt-get install chromium chromium-driver); the browser tests will be skipped" >&2
    fi
fi
pip install -e '.[test]'
