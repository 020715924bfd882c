#!/usr/bin/env bash
# Installs what is missing, builds the release, and serves OllamaStack at http://127.0.0.1:3000
# with the embedded SQLite database in ./data. Ollama is expected at OLLAMA_URL
# (default http://127.0.0.1:11434).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec cargo leptos serve --release
