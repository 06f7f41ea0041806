#!/usr/bin/env bash
# Set up with the test extras, lint, then run the fast test suite (slow real-model tests: -m slow).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
python3 -m ruff check .
python3 -m pytest "$@"
