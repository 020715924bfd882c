#!/usr/bin/env bash
# Installs what building (and, with --test, testing) OllamaStack needs, skipping what is there.
# Only crates.io, npm and Debian packages are used; nothing is downloaded from anywhere else.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v cargo >/dev/null || { echo "Rust is required: install it with rustup (https://rustup.rs)"; exit 1; }
if ! command -v npm >/dev/null; then say "installing Node.js and npm"; apt_install nodejs npm; fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo leptos --version >/dev/null 2>&1; then
  say "installing cargo-leptos (about 20 minutes on 2 cores, once)"
  cargo install cargo-leptos --version 0.3.11 --locked --ignore-rust-version
fi

# The wasm-bindgen CLI must be exactly the library's version in Cargo.lock.
wbg=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wbg" ]; then
  say "installing wasm-bindgen-cli $wbg"
  cargo install wasm-bindgen-cli --version "$wbg" --force
fi

# Tailwind CSS v4 and wasm-opt (binaryen) from npm; cargo-leptos finds them in node_modules/.bin.
if [ ! -x node_modules/.bin/tailwindcss ] || [ ! -x node_modules/.bin/wasm-opt ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing front-end build tools (npm install)"
  # Not `npm ci`: Tailwind lists a native engine per platform as optional packages, and a registry
  # that lacks other platforms' engines makes `npm ci` refuse the lock; `npm install` skips them
  # and installs exactly the locked versions for this platform.
  npm install --no-audit --no-fund --loglevel=error
fi

if [ "$want_test" = 1 ]; then
  if [ ! -x /usr/bin/chromium ]; then say "installing Chromium"; apt_install chromium; fi
  if [ ! -d end2end/node_modules/@playwright/test ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    say "installing Playwright (npm ci in end2end/; it uses the system Chromium)"
    (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    if command -v pg_ctlcluster >/dev/null && ls /etc/postgresql >/dev/null 2>&1; then
      say "starting PostgreSQL"
      as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    fi
  fi
fi
