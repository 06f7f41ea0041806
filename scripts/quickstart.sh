#!/usr/bin/env bash
# The main job: set up, then cross-tune both embedded backbones on both embedded instruction
# datasets with two seeds, evaluate every model on the whole bias suite, analyse, and report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python3 -m crosstune run examples/quickstart.toml
