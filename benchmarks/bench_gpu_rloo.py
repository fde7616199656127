"""GPU: RLOO QLoRA of a Llama-3-8B-shaped policy against a Llama-3.2-1B-shaped reward model, random weights.

No weights are downloaded: random-init bf16 checkpoints are written once (as bench_gpu_dpo.py does; the
reward model is a causal checkpoint whose one-output score head `load_for_inference` adds). Then a few
steps of `rlhf-tui train rloo` run through the real loading code in a subprocess (policy 4-bit NF4 with a
LoRA adapter, the reward model 4-bit and frozen, k completions per prompt) and it prints peak GPU memory,
seconds per step and the --dry-run estimate. Goal: fits 24 GB.

    .venv/bin/python benchmarks/bench_gpu_rloo.py [--workdir /tmp/bench8b] [--steps 3]
    .venv/bin/python benchmarks/bench_gpu_rloo.py --tiny      # the same code on the CPU, small shapes
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "benchmarks")]

from bench_gpu_dpo import LLAMA3_8B, TINY, make_checkpoint  # noqa: E402

LLAMA32_1B = dict(
    vocab_size=128256,
    hidden_size=2048,
    intermediate_size=8192,
    num_hidden_layers=16,
    num_attention_heads=32,
    num_key_value_heads=8,
    max_position_embeddings=8192,
    rope_theta=500000.0,
    rms_norm_eps=1e-5,
    tie_word_embeddings=True,
)
TINY_RM = {**TINY, "num_hidden_layers": 1}


def settings(a: argparse.Namespace) -> dict:
    return dict(
        max_steps=a.steps,
        batch_size=a.generations * a.prompts,
        grad_accum=1,
        num_generations=a.generations,
        max_length=a.max_length,
        max_new_tokens=a.max_new_tokens,
        eval_split=0.0,
        save_steps=10_000,
        logging_steps=1,
        sample_every=1,
    )


def prompts_file(path: Path, n: int, words: int) -> Path:
    from trainers_fixtures import TOPICS, write_jsonl

    rows = [{"prompt": f"please explain {TOPICS[i % len(TOPICS)]} " + "in detail " * words} for i in range(n)]
    return write_jsonl(path, rows)


def child(policy: str, reward: str, data: str, a: argparse.Namespace) -> None:
    import torch

    from trainers.config import load_config
    from trainers.run import run_training

    cfg = load_config(
        "rloo",
        None,
        dict(model=policy, reward_model=reward, data=data, output=tempfile.mkdtemp(prefix="gpu-rloo-"), **settings(a)),
    )
    result = run_training(cfg, progress=False)
    train = result.metrics["train"]
    figures = {
        "train_seconds": result.metrics["summary"]["train_seconds"],
        "steps": result.metrics["summary"]["global_step"],
        "reward": [row.get("reward") for row in train],
        "completion_tokens": [row.get("completions/mean_length") for row in train],
    }
    if torch.cuda.is_available():
        figures["peak_allocated_gib"] = torch.cuda.max_memory_allocated() / 2**30
        figures["peak_reserved_gib"] = torch.cuda.max_memory_reserved() / 2**30
        figures["device"] = torch.cuda.get_device_name(0)
    else:
        import resource

        figures["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        figures["device"] = "cpu"
    print("RESULT " + json.dumps(figures), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="small shapes on the CPU, to check the script works")
    parser.add_argument("--workdir", default=None, help="where the random checkpoints are written (kept for reuse)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--generations", type=int, default=4, help="completions per prompt (k)")
    parser.add_argument("--prompts", type=int, default=2, help="prompts per forward pass")
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--child", nargs=3, metavar=("POLICY", "REWARD", "DATA"))
    a = parser.parse_args()
    if a.tiny:
        a.steps, a.max_length, a.max_new_tokens = min(a.steps, 2), min(a.max_length, 128), min(a.max_new_tokens, 16)
    if a.child:
        child(*a.child, a)
        return

    work = Path(a.workdir or tempfile.mkdtemp(prefix="bench-gpu-rloo-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    policy = make_checkpoint(work / ("tiny" if a.tiny else "llama3-8b-random"), TINY if a.tiny else LLAMA3_8B)
    reward = make_checkpoint(work / ("tiny-rm" if a.tiny else "llama32-1b-random"), TINY_RM if a.tiny else LLAMA32_1B)
    print(f"checkpoints ready in {time.monotonic() - started:.0f} s: {policy}, {reward}", flush=True)
    data = prompts_file(work / "prompts.jsonl", n=16, words=(a.max_length - a.max_new_tokens) // 3)

    from trainers.config import load_config
    from trainers.memory import dry_run_report

    cfg = load_config(
        "rloo", None, dict(model=str(policy), reward_model=str(reward), dry_run=True, gpu_memory="24GB", **settings(a))
    )
    estimate = next(line for line in dry_run_report(cfg)[0] if line.startswith("estimated peak"))
    flags = ["--steps", str(a.steps), "--generations", str(a.generations), "--prompts", str(a.prompts)]
    flags += ["--max-length", str(a.max_length), "--max-new-tokens", str(a.max_new_tokens)] + (["--tiny"] * a.tiny)
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(policy), str(reward), str(data), *flags],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode or not lines:
        sys.exit(f"run failed:\n{proc.stderr[-3000:]}")
    r = json.loads(lines[-1][7:])
    memory = (
        f"peak allocated {r['peak_allocated_gib']:.2f} GiB, reserved {r['peak_reserved_gib']:.2f} GiB"
        if "peak_allocated_gib" in r
        else f"peak RSS {r['peak_rss_gib']:.2f} GiB"
    )
    shape = "tiny" if a.tiny else "Llama-3-8B-shaped policy, Llama-3.2-1B-shaped reward model"
    print(
        f"{shape} RLOO QLoRA, {a.prompts} prompts x {a.generations} completions, {a.max_length} tokens "
        f"({a.max_new_tokens} new) on {r['device']}: {memory}; {r['train_seconds'] / max(1, r['steps']):.1f} s/step "
        f"over {r['steps']} steps; {estimate}"
    )
    print(f"  reward per step {r['reward']}, completion tokens {r['completion_tokens']}")
    if "peak_reserved_gib" in r:
        print(f"  fits 24 GB: {'yes' if r['peak_reserved_gib'] * 2**30 <= 24 * 10**9 else 'NO'}")


if __name__ == "__main__":
    main()
