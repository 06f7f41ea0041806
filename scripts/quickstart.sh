#!/usr/bin/env bash
# The main job: set up, then measure the whole bias suite on both embedded models.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
pairs="${PAIRS:-20}"
for model in smollm2-135m-instruct gemma-3-270m; do
    python3 -m crosstune eval --model "$model" --pairs "$pairs" --out "runs/eval-$model"
done
