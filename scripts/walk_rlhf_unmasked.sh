#!/usr/bin/env bash
set -euo pipefail
cd /work/main
export RLHF_TUI_STORE=runs/walk/walk.duckdb
RT=.venv/bin/rlhf-tui
t0=$SECONDS
echo "== rloo-nomask"
$RT train rloo --dataset walk --model runs/walk/sft --reward-model runs/walk/rm --output runs/walk/rloo-nomask \
    --max-length 160 --max-new-tokens 40 --num-generations 4 --batch-size 8 --grad-accum 1 --max-steps 8 \
    --learning-rate 2e-5 --sample-every 2 --no-mask-truncated --no-4bit --no-bf16 --no-gradient-checkpointing --logging-steps 1
echo "== rloo-nomask took $((SECONDS - t0)) s"
t0=$SECONDS
$RT eval --reference models/SmolLM2-135M-Instruct --policy runs/walk/rloo-nomask --reward-model runs/walk/rm-heldout \
    --dataset walk --limit 24 --max-new-tokens 40 --max-length 160 --out runs/walk/eval-nomask.parquet
echo "== eval-nomask took $((SECONDS - t0)) s"
