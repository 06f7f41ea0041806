#!/usr/bin/env bash
# The planted-origin experiment: plant X into a backbone, cross-tune with Y in one dataset, analyse.
set -euo pipefail
cd "$(dirname "$0")/.."
crosstune plant --model smollm2-135m-instruct --bias anchoring --steps 24 --batch-size 4 \
    --learning-rate 2e-3 --out runs/planted/smollm2-anchoring
crosstune run examples/planted-origins.toml
