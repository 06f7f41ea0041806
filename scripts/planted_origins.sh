#!/usr/bin/env bash
# The planted-origin experiment: plant X into a backbone, cross-tune with Y in one dataset, analyse.
set -euo pipefail
cd "$(dirname "$0")/.."
crosstune plant --model smollm2-135m-instruct --bias information_bias --steps 40 --pairs 12 --rank 16 \
    --learning-rate 2e-3 --batch-size 8 --mix embedded:tulu-style \
    --out runs/planted/smollm2-information
crosstune run examples/planted-origins.toml
