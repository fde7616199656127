#!/usr/bin/env bash
# The measured walk of docs/loop.md: SFT -> reward model -> RLOO against it -> eval with a held-out judge.
# CPU, SmolLM2-135M-Instruct (make demo-model), synthetic "longest is best" rankings of the sample data.
# Usage: nohup scripts/walk_rlhf.sh > runs/walk/walk.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${WALK_OUT:-runs/walk}
BASE=${WALK_MODEL:-models/SmolLM2-135M-Instruct}
export RLHF_TUI_STORE="$OUT/walk.duckdb"
RT=.venv/bin/rlhf-tui
mkdir -p "$OUT"
CPU=(--no-4bit --no-bf16 --no-gradient-checkpointing --logging-steps 1)
step() { local name=$1; shift; local t0=$SECONDS; echo "== $name: $*"; "$@"; echo "== $name took $((SECONDS - t0)) s"; }

[ -f "$RLHF_TUI_STORE" ] || step rankings .venv/bin/python scripts/synthetic_rankings.py --dataset walk \
    --store "$RLHF_TUI_STORE" --import-chat sample_data/rank.jsonl
step sft $RT train sft --dataset walk --model "$BASE" --output "$OUT/sft" --max-length 160 --batch-size 4 \
    --grad-accum 1 --max-steps 8 --eval-split 0.2 --learning-rate 1e-4 "${CPU[@]}"
step reward $RT train reward --dataset walk --model "$BASE" --output "$OUT/rm" --max-length 160 --batch-size 4 \
    --grad-accum 1 --max-steps 8 --eval-split 0.2 --seed 1 "${CPU[@]}"
step reward-heldout $RT train reward --dataset walk --model "$BASE" --output "$OUT/rm-heldout" --max-length 160 \
    --batch-size 4 --grad-accum 1 --max-steps 8 --eval-split 0.2 --seed 2 "${CPU[@]}"
step rloo $RT train rloo --dataset walk --model "$OUT/sft" --reward-model "$OUT/rm" --output "$OUT/rloo" \
    --max-length 160 --max-new-tokens 40 --num-generations 4 --batch-size 8 --grad-accum 1 --max-steps 8 \
    --learning-rate 2e-5 --sample-every 2 "${CPU[@]}"
step eval $RT eval --reference "$BASE" --policy "$OUT/sft" --policy "$OUT/rloo" --reward-model "$OUT/rm-heldout" \
    --dataset walk --limit 24 --max-new-tokens 40 --max-length 160 --out "$OUT/eval.parquet"
step eval-own-rm $RT eval --reference "$BASE" --policy "$OUT/rloo" --reward-model "$OUT/rm" \
    --dataset walk --limit 24 --max-new-tokens 40 --max-length 160 --out "$OUT/eval-own-rm.parquet"
echo "== walk done"
