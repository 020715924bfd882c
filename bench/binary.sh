#!/usr/bin/env bash
# The release binary on its own: copied alone into an empty folder and run with an empty
# environment, it must serve the whole site from itself. Checks the command line (--help,
# --version, --check-config, migrate, exit codes) and prints the figures: binary size, cold
# start, idle memory and the first page load's bytes on the wire.
#   bash bench/binary.sh              (builds the release first)
#   SKIP_BUILD=1 bash bench/binary.sh (uses target/release/ollamastack as it is)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  bash scripts/setup.sh >/dev/null
  cargo leptos build --release --split >/dev/null 2>&1
fi
built=target/release/ollamastack
[ -x "$built" ] || { echo "no release binary at $built"; exit 1; }

work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "binary check failed: $*"; [ -f "$work/alone/app.log" ] && tail -n 30 "$work/alone/app.log"; exit 1; }

mkdir "$work/alone"
cp "$built" "$work/alone/ollamastack"
cd "$work/alone"
bin=./ollamastack
alone() { env -i "$@"; }

# The oldest glibc it runs on: 2.34 (RHEL 9, Ubuntu 22.04, Debian 12 and later).
glibc=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1)
[ "$(printf '%s\n2.34\n' "$glibc" | sort -V | tail -n1)" = 2.34 ] \
  || fail "the binary needs glibc $glibc; it must run on 2.34 (see src/main.rs)"

# The command line.
alone $bin --version | grep -q '^ollamastack [0-9]' || fail "--version"
alone $bin --help | grep -q 'Exit codes' || fail "--help lists the exit codes"
alone $bin --check-config >/dev/null || fail "--check-config with the defaults"
set +e
alone $bin --no-such-flag >/dev/null 2>&1; [ $? = 2 ] || fail "a wrong flag exits 2"
alone OLLAMASTACK_ADDR=nowhere $bin --check-config >/dev/null 2>&1; [ $? = 2 ] || fail "invalid settings exit 2"
alone $bin --config missing.toml --check-config >/dev/null 2>&1; [ $? = 2 ] || fail "a missing --config file exits 2"
alone OLLAMASTACK_AUTH_MODE=single_user OLLAMASTACK_ADDR=0.0.0.0:3000 $bin --check-config >/dev/null 2>&1; [ $? = 2 ] || fail "single-user on every address is refused"
set -e

# Port 3000 is the default; when something else holds it, a settings file moves it (the
# environment stays empty).
port=3000
if (echo >/dev/tcp/127.0.0.1/3000) 2>/dev/null; then
  port=29399
  printf '[server]\naddr = "127.0.0.1:%s"\n' "$port" >Leptos.toml
fi
alone $bin migrate >/dev/null || fail "migrate"
[ -f data/ollamastack.db ] || fail "migrate creates data/ollamastack.db"
rm -rf data

base=http://127.0.0.1:$port
start=$(date +%s%N)
env -i "$bin" >app.log 2>&1 &
pid=$!
for _ in $(seq 1 500); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || fail "the binary exited"
  sleep 0.01
done
ready=$(date +%s%N)
curl -fsS "$base/healthz" >/dev/null || fail "no answer on $base"
[ -f data/ollamastack.db ] || fail "the SQLite database in ./data"

# The site is embedded in its brotli form (build.rs), served with its length from the first
# request on; the gzip form and the file itself are made once, when a client first asks.
# A new instance sends the first visitor to create the admin: follow it.
page=$(curl -fsSL "$base/")
wasm=$(grep -o '/pkg/ollamastack\.[A-Za-z0-9_-]*\.wasm' <<<"$page" | head -1)
js=$(grep -o '/pkg/ollamastack\.[A-Za-z0-9_-]*\.js' <<<"$page" | head -1)
css=$(grep -o '/pkg/ollamastack\.[A-Za-z0-9_-]*\.css' <<<"$page" | head -1)
[ -n "$wasm" ] && [ -n "$js" ] && [ -n "$css" ] || fail "the page names the hashed bundle (wasm '$wasm', js '$js', css '$css')"
wasm_headers=$(curl -fsS -o /dev/null -D - -H "Accept-Encoding: gzip, br" "$base$wasm")
grep -qi "^content-encoding: br" <<<"$wasm_headers" && grep -qi '^content-length:' <<<"$wasm_headers" \
  || fail "the WASM is not served stored with br from the start"
# With --split the bundle's script imports the loader of the split-off chunks.
split=
if curl -fsS "$base$js" | grep -q '__wasm_split\.'; then
  split=/pkg/$(curl -fsS "$base$js" | grep -o '__wasm_split\.[A-Za-z0-9_-]*\.js' | head -1)
  [ "$split" != /pkg/ ] || fail "the split loader's name"
fi

# Each of the bundle's files: 200, cached for a year, and its bytes on the wire.
total=0
for path in /signup "$js" "$wasm" "$css" $split; do
  headers=$(curl -fsS -o "$work/body" -D - -H 'Accept-Encoding: br, gzip' "$base$path")
  bytes=$(stat -c %s "$work/body")
  total=$((total + bytes))
  if [ "$path" != /signup ]; then
    grep -qi '^cache-control: public, max-age=31536000, immutable' <<<"$headers" || fail "$path is not cached for a year"
    etag=$(grep -i '^etag:' <<<"$headers" | cut -d' ' -f2- | tr -d '\r')
    status=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$base$path")
    [ "$status" = 304 ] || fail "$path with its ETag answers $status, not 304"
  fi
  printf '  %-52s %9d bytes\n' "$path" "$bytes"
done
icon=$(curl -s -o /dev/null -D - "$base/favicon.svg")
grep -qi '^cache-control: no-cache' <<<"$icon" || fail "favicon.svg is revalidated"

# Idle: a moment after the first page.
sleep 2
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
size=$(stat -c %s "$bin")
# Measured after the memory: a browser on plain HTTP asks for gzip (made once from the brotli
# form), and a client that takes no compression gets the file decoded once.
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
t=$(date +%s%N)
gzip_headers=$(curl -fsS -o "$work/wasm.gz" -D - -H 'Accept-Encoding: gzip, deflate' "$base$wasm")
gzip_first=$(ms "$t")
t=$(date +%s%N)
curl -fsS -o /dev/null -H 'Accept-Encoding: gzip, deflate' "$base$wasm"
gzip_again=$(ms "$t")
grep -qi '^content-encoding: gzip' <<<"$gzip_headers" && grep -qi '^content-length:' <<<"$gzip_headers" \
  || fail "the WASM is not served with gzip to a client without br"
curl -fsS -o "$work/plain.wasm" "$base$wasm"
[ "$(head -c 4 "$work/plain.wasm" | od -An -tx1 | tr -d ' ')" = 0061736d ] || fail "the WASM without compression is not WebAssembly"
gunzip -c "$work/wasm.gz" | cmp -s - "$work/plain.wasm" || fail "the gzip form is not the WASM"
gzip_bytes=$(stat -c %s "$work/wasm.gz")
echo "binary:           $((size / 1000000)).$((size / 100000 % 10)) MB ($size bytes), site embedded, symbols stripped"
echo "needs:            glibc $glibc or later"
echo "cold start:       $(((ready - start) / 1000000)) ms to the first /healthz answer"
echo "idle memory:      $((rss_kb / 1024)) MB resident (after the first page load)"
echo "first page load:  $((total / 1024)) KB on the wire (HTML, JS, WASM, CSS${split:+, split loader}; brotli)"
echo "gzip (plain HTTP): WASM $((gzip_bytes / 1024)) KB, made in $gzip_first ms on the first request, $gzip_again ms after"
kill -TERM "$pid"
wait "$pid" || fail "SIGTERM ends the binary with 0"
pid=
# Budgets: a little above today's figures, so that growth is a decision taken in the commit that
# raises them (with its reason), not something a later measurement discovers. Issue 10's goals
# (25 MB, a first conversation page under 300 KB) sit below them; BENCHMARKS.md says why.
# Raised on 2026-12-07 (twentieth session) for answer versions: 28,500,000 and 430,000 before;
# the feature took the binary from 28,451,416 to 28,574,744 bytes and the first load from
# 427,155 to 431,084 (BENCHMARKS.md, "Answer versions").
binary_budget=${BINARY_BUDGET_BYTES:-28700000}
first_load_budget=${FIRST_LOAD_BUDGET_BYTES:-435000}
[ "$size" -le "$binary_budget" ] || fail "the binary is $size bytes, over its budget of $binary_budget"
[ "$total" -le "$first_load_budget" ] || fail "the first page load is $total bytes, over its budget of $first_load_budget"
echo "budgets:          binary $size of $binary_budget bytes, first load $total of $first_load_budget bytes"
echo "binary check: ok"
