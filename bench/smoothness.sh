#!/usr/bin/env bash
# Streaming smoothness in a real browser: builds the release app, starts it with the fake Ollama
# on spare ports, runs bench/smoothness.mjs (headless Chromium) and stops everything.
#   bash bench/smoothness.sh            (TOKENS=5000, PARA=60 by default; PARA=0: one paragraph;
#                                        SKIP_BUILD=1: the release build already there)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/release_app.sh 29320 29322
APP_URL="$base" node bench/smoothness.mjs
