#!/usr/bin/env bash
# Builds the app, starts the fake Ollama and two app servers (one whose Ollama is down), runs the
# Playwright tests in headless Chromium, and stops everything, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

# Below 32768: Linux hands out 32768-60999 as the local ports of outgoing connections, and one
# of those held a port of ours once (the app could not listen: "Address already in use").
APP_PORT=${E2E_APP_PORT:-29310}
DOWN_PORT=${E2E_DOWN_PORT:-29311}
FAKE_PORT=${E2E_FAKE_PORT:-29312}
ACCOUNTS_PORT=${E2E_ACCOUNTS_PORT:-29313}
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The release build: what people run (optimised WASM through wasm-opt), not only a debug build.
echo "==> building the app (cargo leptos build --release --split) and the fake Ollama"
cargo leptos build --release --split
# The fake Ollama is a test tool: a debug build. With the tests' features (`--tests`), it is
# the very binary `cargo test` has built, so CI does not build it again; a release build of it
# would take the release profile's whole-program optimisation (minutes) for nothing.
cargo build --features ssr --tests --bin fake-ollama
server=target/release/ollamastack
[ -x "$server" ] || { echo "the server binary is missing at $server"; exit 1; }
# The binary alone in an empty folder with an empty environment serves the whole site.
echo "==> the release binary on its own"
SKIP_BUILD=1 bash bench/binary.sh

wait_for() {
  for _ in $(seq 1 150); do
    curl -fsS "$1" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "$1 did not answer; logs:"; tail -n 50 "$work"/*.log; exit 1
}

FAKE_OLLAMA_ADDR=127.0.0.1:$FAKE_PORT FAKE_OLLAMA_TOKEN_DELAY_MS=40 \
  target/debug/fake-ollama >"$work/fake.log" 2>&1 &
pids+=($!)
start_app() { # name port ollama_url [auth mode, single_user unless given] [requests a minute]
  # The single-user servers take every test's requests as one person: no rate limit there; the
  # accounts server has limits as a team's server would (twice the default a minute: its test
  # plays much of a person's day in one minute).
  # Webhooks may reach 127.0.0.1 (the fake Ollama stands in for a receiver).
  # Titles by the model are off (on by default): the tests find conversations by their first
  # message; chat.spec.ts switches them on for its person to test them.
  OLLAMASTACK_AI_AUTO_TITLES=false \
  OLLAMASTACK_RATE_PER_MINUTE=${5:-0} OLLAMASTACK_RATE_PER_HOUR=${6:-0} OLLAMASTACK_OUTBOUND_ALLOWED_HOSTS=127.0.0.1 \
  OLLAMASTACK_CONFIG=Leptos.toml OLLAMASTACK_ADDR=127.0.0.1:$2 OLLAMA_URL=$3 OLLAMASTACK_AUTH_MODE=${4:-single_user} \
  OLLAMASTACK_DATA_DIR="$work/$1-data" LEPTOS_SITE_ROOT=target/site OLLAMASTACK_FLUSH_INTERVAL_MS=100 \
  OLLAMA_CONNECT_TIMEOUT_MS=500 RUST_LOG=info "$server" >"$work/$1.log" 2>&1 &
  pids+=($!)
}
start_app app "$APP_PORT" "http://127.0.0.1:$FAKE_PORT"
# Port 9 (discard) has nothing listening: this instance shows the Ollama-down banner.
start_app down "$DOWN_PORT" "http://127.0.0.1:9"
# With sign-in: people, invitations, each person's own things.
start_app accounts "$ACCOUNTS_PORT" "http://127.0.0.1:$FAKE_PORT" accounts 120 1000
wait_for "http://127.0.0.1:$FAKE_PORT/api/version"
wait_for "http://127.0.0.1:$APP_PORT/healthz"
wait_for "http://127.0.0.1:$DOWN_PORT/healthz"
wait_for "http://127.0.0.1:$ACCOUNTS_PORT/healthz"

echo "==> Playwright (headless Chromium)"
cd end2end
set +e
E2E_BASE_URL="http://127.0.0.1:$APP_PORT" E2E_DOWN_URL="http://127.0.0.1:$DOWN_PORT" \
  E2E_FAKE_URL="http://127.0.0.1:$FAKE_PORT" E2E_ACCOUNTS_URL="http://127.0.0.1:$ACCOUNTS_PORT" \
  npx playwright test 2>&1 | tee "$work/playwright.log"
status=${PIPESTATUS[0]}
set -e
count() { grep -Eo "^ *[0-9]+ $1" "$work/playwright.log" | grep -Eo '[0-9]+' | tail -n1; }
echo "end-to-end: $(count passed || true) passed, $(count failed || true) failed" | sed 's/:  passed/: 0 passed/; s/,  failed/, 0 failed/'
exit "$status"
