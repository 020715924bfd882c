#!/usr/bin/env bash
# Installs what is missing, then runs every test: unit, integration on SQLite and PostgreSQL,
# and end-to-end in headless Chromium against the built server and the fake Ollama.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test

echo "==> formatting"
cargo fmt --check

echo "==> clippy"
cargo clippy --features ssr --all-targets -- -D warnings

echo "==> unit and integration tests (SQLite and PostgreSQL)"
# --lib --tests: the crate has no doc tests, so cargo's closing line is a real suite's.
cargo test --features ssr --lib --tests

echo "==> end-to-end tests"
bash end2end/run.sh
