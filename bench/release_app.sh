# Sourced by the browser benchmarks: builds what they need (the release app unless SKIP_BUILD is
# set, the fake Ollama as end2end/run.sh builds it) and starts both on the ports given, until
# the script exits. The fake is a debug build with the tests' features: at benchmark rates its
# speed does not matter, and a release build would take the whole-program LTO.
#   source bench/release_app.sh APP_PORT FAKE_PORT   (then $base is the app's address)
app_port=$1
fake_port=$2
bash scripts/setup.sh --test >/dev/null
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo leptos build --release --split >/dev/null 2>&1
fi
cargo build --features ssr --tests --bin fake-ollama >/dev/null 2>&1
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
FAKE_OLLAMA_ADDR=127.0.0.1:$fake_port target/debug/fake-ollama >"$work/fake.log" 2>&1 &
pids+=($!)
# No titles by the model: what is measured is the chat (as in earlier runs).
OLLAMASTACK_AI_AUTO_TITLES=false \
OLLAMASTACK_AUTH_MODE=single_user OLLAMASTACK_RATE_PER_MINUTE=0 OLLAMASTACK_RATE_PER_HOUR=0 OLLAMASTACK_ADDR=127.0.0.1:$app_port OLLAMA_URL=http://127.0.0.1:$fake_port OLLAMASTACK_DATA_DIR="$work/data" \
  LEPTOS_SITE_ROOT=target/site RUST_LOG=warn target/release/ollamastack >"$work/app.log" 2>&1 &
pids+=($!)
base=http://127.0.0.1:$app_port
for _ in $(seq 1 100); do curl -fsS "$base/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
