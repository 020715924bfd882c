#!/usr/bin/env bash
# Issue 10's first-load figure: the first visit (empty cache) to a conversation page, in
# headless Chromium, as bench/first_load.mjs measures it (bytes on the wire, requests, time
# until hydrated). Starts the release app with the fake Ollama on spare ports, makes a
# conversation of TURNS exchanges whose answers are markdown (heading, list, table, code), and
# loads its page.
#   bash bench/first_load_conversation.sh               (TURNS=6; builds the release first)
#   SKIP_BUILD=1 bash bench/first_load_conversation.sh  (the release build already there)
set -euo pipefail
cd "$(dirname "$0")/.."
turns=${TURNS:-6}
source bench/release_app.sh 29330 29332

# The conversation: each turn waits for its answer (one answer at a time per conversation).
api() { curl -fsS -H 'content-type: application/json' "$@"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
conversation=$(api -d '{"content":"Format this [markdown]"}' "$base/api/v1/conversations" | json "['conversation']['id']")
wait_idle() {
  for _ in $(seq 1 100); do
    status=$(api "$base/api/v1/conversations/$conversation" | json "['messages'][-1]['status']")
    [ "$status" != streaming ] && return 0
    sleep 0.1
  done
  echo "the answer did not finish"; exit 1
}
wait_idle
for _ in $(seq 2 "$turns"); do
  api -d '{"content":"Again [markdown]"}' "$base/api/v1/conversations/$conversation/messages" >/dev/null
  wait_idle
done
echo "a conversation of $turns markdown answers: $base/c/$conversation"
APP_URL="$base/c/$conversation" READY='window.__ollamastack_hydrated === true' node bench/first_load.mjs
