#!/usr/bin/env bash
# How small can the chat page's WASM get? Builds bench/islands_floor (the chat page's
# interactive part written small: a streamed message list, the composer, a sidebar loading its
# list through a server function) in the app's WASM profile, once as Leptos islands and once
# hydrated whole, through wasm-bindgen and wasm-opt as cargo-leptos does, and prints each
# WASM's size raw and with brotli 11, beside the app's own main bundle when it is built.
#   bash bench/islands_floor.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
export CARGO_TARGET_DIR=$PWD/target/islands-floor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
wasm_opt=$PWD/node_modules/.bin/wasm-opt
size_of() { # raw and brotli bytes of a WASM file
  printf '%9d bytes raw, %7d brotli' "$(stat -c %s "$1")" "$(node bench/islands_floor/brotli_size.mjs "$1")"
}
for mode in islands whole; do
  features=hydrate
  [ "$mode" = islands ] && features=hydrate,islands
  (cd bench/islands_floor && cargo build --quiet --lib --target wasm32-unknown-unknown \
    --profile wasm-release --features "$features")
  wasm-bindgen --target web --out-dir "$work/$mode" \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/islands_floor.wasm"
  "$wasm_opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals "$work/$mode/islands_floor_bg.wasm" -o "$work/$mode.wasm"
  printf '%-40s %s\n' "floor, $mode:" "$(size_of "$work/$mode.wasm")"
done
app=$(ls target/site/pkg/ollamastack.*.wasm 2>/dev/null | head -1 || true)
if [ -n "$app" ]; then
  printf '%-40s %s\n' "the app's main bundle (target/site):" "$(size_of "$app")"
fi
