#!/usr/bin/env bash
# The model-organism comparison of docs/results.md: for each seed, SFT-Seed and every VISTA-family method from
# the same seed model, plus the tables. Two seeds at a time, one thread each (2 cores; two torch processes with
# default threads slow each other down dozens of times). About 45 minutes per seed and lane on 2 cores.
#     bash scripts/organism_runs.sh            # seeds 0 1 2 into runs/cmp-seedN, then the tables
set -euo pipefail
cd "$(dirname "$0")/.."
METHODS=${METHODS:-rest-em,vista-sft,prefix-only,vas-only,vista-dpo}
run() { OMP_NUM_THREADS=1 .venv/bin/vistakit demo --seed "$1" --run-dir "runs/cmp-seed$1" --method "$METHODS" > "runs/cmp-seed$1.log" 2>&1; }
mkdir -p runs
run 0 & run 1 & wait
run 2
.venv/bin/python scripts/organism_table.py runs/cmp-seed0 runs/cmp-seed1 runs/cmp-seed2
