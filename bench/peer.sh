#!/usr/bin/env bash
# OllamaStack and Open WebUI side by side on this machine: the same fake Ollama behind both, the
# same clients in front (bench/first_load.mjs in headless Chromium, bench/peer_client.py for
# streamed chat completions), one app running at a time so neither takes the other's cores.
# Figures: cold start, first page load, idle memory, first token and whole answer (200 tokens,
# 1 ms apart), 50 chats at once, memory after them. Both run without sign-in on SQLite.
#   bash bench/peer.sh               (installs Open WebUI $OPENWEBUI_VERSION into target/peer once,
#                                     about 7 GB with its PyTorch; builds the release)
#   SKIP_BUILD=1 PEER_VENV=/path/to/venv bash bench/peer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OPENWEBUI_VERSION=${OPENWEBUI_VERSION:-0.12.4}
RUNS=${RUNS:-30}
CHATS=${CHATS:-50}
APP_PORT=29330
PEER_PORT=29331
FAKE_PORT=29332

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  bash scripts/setup.sh --test >/dev/null
  cargo leptos build --release --split >/dev/null 2>&1
  cargo build --release --features ssr --bin fake-ollama >/dev/null 2>&1
fi
venv=${PEER_VENV:-target/peer/openwebui}
if [ ! -x "$venv/bin/open-webui" ]; then
  echo "==> installing Open WebUI $OPENWEBUI_VERSION into $venv (PyPI; once)"
  python3 -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else 1)' ||
    { echo "Open WebUI needs Python 3.11 or 3.12"; exit 1; }
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "open-webui==$OPENWEBUI_VERSION"
fi

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# Resident memory of a process and all its descendants, in MB.
tree_rss() {
  local all=$1 next=$1
  while [ -n "$next" ]; do
    next=$(for p in $next; do pgrep -P "$p" || true; done | tr '\n' ' ')
    all="$all $next"
  done
  for p in $all; do awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null; done | awk '{s += $1} END {printf "%d", s / 1024}'
}
# Milliseconds until URL answers, while PID is alive.
wait_ms() {
  local url=$1 pid=$2 start=$3
  for _ in $(seq 1 6000); do
    if curl -fsS "$url" >/dev/null 2>&1; then echo $((($(date +%s%N) - start) / 1000000)); return; fi
    kill -0 "$pid" 2>/dev/null || { echo "exited"; return; }
    sleep 0.02
  done
  echo "timeout"
}

FAKE_OLLAMA_ADDR=127.0.0.1:$FAKE_PORT target/release/fake-ollama >"$work/fake.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$FAKE_PORT/api/version" >/dev/null 2>&1 && break; sleep 0.1; done

echo "peer benchmark: $(nproc) cores, fake Ollama on :$FAKE_PORT, $(date -u +%F)"
echo "baseline (the fake Ollama read directly, the same client):"
python3 bench/peer_client.py relay "fake Ollama direct" "http://127.0.0.1:$FAKE_PORT" /api/chat "" "$RUNS"

# Runs one app: NAME URL HEALTH_PATH READY_JS CHAT_PATH PREPARE, the app's command after --.
# PREPARE runs once the app answers; it prints the API token (if any) and may wait for the app
# to settle.
measure() {
  local name=$1 base=$2 health=$3 ready=$4 chat=$5 token_cmd=$6
  shift 7
  local start pid cold token load
  start=$(date +%s%N)
  "$@" >"$work/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  cold=$(wait_ms "$base$health" "$pid" "$start")
  case $cold in exited|timeout) echo "$name did not start ($cold):"; tail -n 20 "$work/$name.log"; return 1;; esac
  local started_rss
  started_rss=$(tree_rss "$pid")
  token=$(eval "$token_cmd")
  load=$(APP_URL="$base/" READY="$ready" node bench/first_load.mjs)
  sleep 5
  echo "$name:"
  echo "  cold start to the first health answer: $cold ms; memory once started: $started_rss MB"
  echo "  first page load: $load"
  echo "  memory after the first page load: $(tree_rss "$pid") MB"
  python3 bench/peer_client.py relay "$name" "$base" "$chat" "$token" "$RUNS"
  python3 bench/peer_client.py concurrent "$name" "$base" "$chat" "$token" "$CHATS"
  echo "  memory after $CHATS chats at once: $(tree_rss "$pid") MB"
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
}

# OllamaStack compresses its site once after start (brotli 11, about 10 s here); until then it
# compresses on the fly, weaker. The page is measured with the stored forms, as visitors get it.
ollamastack_settled() {
  local wasm
  wasm=$(curl -fsS "http://127.0.0.1:$APP_PORT/" | grep -o '/pkg/ollamastack\.[A-Za-z0-9_-]*\.wasm' | head -1)
  for _ in $(seq 1 240); do
    curl -fsS -o /dev/null -D - -H 'Accept-Encoding: gzip' "http://127.0.0.1:$APP_PORT$wasm" | grep -qi '^content-length:' && return
    sleep 0.5
  done
}

measure ollamastack "http://127.0.0.1:$APP_PORT" /healthz 'window.__ollamastack_hydrated === true' \
  /v1/chat/completions ollamastack_settled -- \
  # No titles by the model: the client below, like the peer's, never asks for one.
  env -i PATH="$PATH" OLLAMASTACK_AUTH_MODE=single_user OLLAMASTACK_RATE_PER_MINUTE=0 OLLAMASTACK_RATE_PER_HOUR=0 \
  OLLAMASTACK_AI_AUTO_TITLES=false \
  OLLAMASTACK_MAX_GENERATIONS=200 OLLAMASTACK_MAX_GENERATIONS_PER_OWNER=200 OLLAMASTACK_MAX_STREAMS_PER_PERSON=200 \
  OLLAMASTACK_ADDR=127.0.0.1:$APP_PORT OLLAMA_URL=http://127.0.0.1:$FAKE_PORT \
  OLLAMASTACK_DATA_DIR="$work/ollamastack-data" RUST_LOG=warn target/release/ollamastack

# Open WebUI without sign-in makes its one admin on the first sign-in; the API takes that token.
# Offline, with embeddings from Ollama (as OllamaStack's), so nothing is downloaded at start.
openwebui_token="curl -fsS -X POST -H 'Content-Type: application/json' -d '{\"email\":\"\",\"password\":\"\"}' \
  http://127.0.0.1:$PEER_PORT/api/v1/auths/signin | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"token\"])'"
mkdir -p "$work/openwebui-data"
measure openwebui "http://127.0.0.1:$PEER_PORT" /health "document.querySelector('#chat-input') !== null" \
  /api/chat/completions "$openwebui_token" -- \
  env -i PATH="$PATH" HOME="$work" DATA_DIR="$work/openwebui-data" WEBUI_AUTH=False WEBUI_SECRET_KEY=bench \
  OLLAMA_BASE_URL=http://127.0.0.1:$FAKE_PORT ENABLE_OPENAI_API=False OFFLINE_MODE=true HF_HUB_OFFLINE=1 \
  RAG_EMBEDDING_ENGINE=ollama RAG_EMBEDDING_MODEL=nomic-embed-text:latest ENABLE_VERSION_UPDATE_CHECK=false \
  ANONYMIZED_TELEMETRY=false DO_NOT_TRACK=true SCARF_NO_ANALYTICS=true GLOBAL_LOG_LEVEL=WARNING \
  "$venv/bin/open-webui" serve --host 127.0.0.1 --port "$PEER_PORT"
