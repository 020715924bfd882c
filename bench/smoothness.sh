#!/usr/bin/env bash
# Streaming smoothness in a real browser: builds the release app, starts it with the fake Ollama
# on spare ports, runs bench/smoothness.mjs (headless Chromium) and stops everything.
#   bash bench/smoothness.sh            (TOKENS=5000, PARA=60 by default; PARA=0: one paragraph;
#                                        SKIP_BUILD=1: the release build already there)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test >/dev/null
# SKIP_BUILD=1: use the release build already there (after end2end/run.sh, say).
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo leptos build --release --split >/dev/null 2>&1
fi
# The fake Ollama as end2end/run.sh builds it (debug, with the tests' features): at 100 tokens a
# second its speed does not matter, and a release build would take the whole-program LTO.
cargo build --features ssr --tests --bin fake-ollama >/dev/null 2>&1
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
FAKE_OLLAMA_ADDR=127.0.0.1:39322 target/debug/fake-ollama >"$work/fake.log" 2>&1 &
pids+=($!)
OLLAMASTACK_AUTH_MODE=single_user OLLAMASTACK_RATE_PER_MINUTE=0 OLLAMASTACK_RATE_PER_HOUR=0 OLLAMASTACK_ADDR=127.0.0.1:39320 OLLAMA_URL=http://127.0.0.1:39322 OLLAMASTACK_DATA_DIR="$work/data" \
  LEPTOS_SITE_ROOT=target/site RUST_LOG=warn target/release/ollamastack >"$work/app.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -fsS http://127.0.0.1:39320/healthz >/dev/null 2>&1 && break; sleep 0.2; done
APP_URL=http://127.0.0.1:39320 node bench/smoothness.mjs
