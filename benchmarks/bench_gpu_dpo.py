"""GPU: DPO QLoRA on a randomly initialised model with Llama-3-8B's architecture, 1024 tokens.

No weights are downloaded: the script writes a random-init bf16 checkpoint (about 16 GB on disk for
the 8B shape) once, then trains a few steps of `rlhf-tui train dpo` (batch 1, accumulation 4) through
the real loading code, with and without --precompute-ref, each in its own subprocess, and prints
peak GPU memory (allocated and reserved) and tokens/s. Goal: fits 16 GB.

    .venv/bin/python benchmarks/bench_gpu_dpo.py [--workdir /tmp/bench8b] [--steps 6]
    .venv/bin/python benchmarks/bench_gpu_dpo.py --tiny      # the same code on the CPU, small shape
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
sys.path[:0] = [str(REPO), str(REPO / "tests")]

LLAMA3_8B = dict(
    vocab_size=128256,
    hidden_size=4096,
    intermediate_size=14336,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=8,
    max_position_embeddings=8192,
    rope_theta=500000.0,
    rms_norm_eps=1e-5,
    tie_word_embeddings=False,
)
TINY = dict(
    vocab_size=1024,
    hidden_size=128,
    intermediate_size=256,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=2048,
    tie_word_embeddings=False,
)


def make_checkpoint(folder: Path, shape: dict) -> Path:
    """Tokenizer from the test fixture; weights random N(0, 0.02) written in bf16, built on the meta device
    and materialised one tensor at a time so host memory stays near one copy."""
    import torch
    from trainers_fixtures import build_tiny_model
    from transformers import LlamaConfig, LlamaForCausalLM

    if (folder / "READY").exists():
        return folder
    build_tiny_model(folder)  # writes the tokenizer; its tiny model is replaced below
    eos = json.loads((folder / "config.json").read_text())["eos_token_id"]
    config = LlamaConfig(**shape, bos_token_id=1, eos_token_id=eos)
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    model = model.to_empty(device="cpu").to(torch.bfloat16)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name:
                param.fill_(1.0)
            else:
                param.normal_(0.0, 0.02, generator=generator)
    model.save_pretrained(folder, max_shard_size="2GB")
    (folder / "READY").write_text("ok")
    return folder


def long_pairs(path: Path, n: int, words: int) -> Path:
    from trainers_fixtures import preference_rows, write_jsonl

    rows = preference_rows(n_prompts=n, pairs_per_prompt=1)
    for r in rows:  # prompt ~ a third, answers ~ two thirds of max_length after truncation
        r["prompt"] = (r["prompt"] + " ") * (words // 3)
        r["chosen"] = (r["chosen"] + " ") * words
        r["rejected"] = (r["rejected"] + " ") * words
    return write_jsonl(path, rows)


def child(model: str, data: str, precompute: bool, steps: int, max_length: int, accum: int) -> None:
    import torch

    from trainers.config import load_config
    from trainers.run import run_training

    cfg = load_config(
        "dpo",
        None,
        dict(
            model=model,
            data=data,
            output=tempfile.mkdtemp(prefix="gpu-dpo-"),
            max_steps=steps,
            batch_size=1,
            grad_accum=accum,
            max_length=max_length,
            eval_split=0.0,
            precompute_ref=precompute,
            save_steps=10_000,
            logging_steps=1,
        ),
    )
    on_gpu = torch.cuda.is_available()
    result = run_training(cfg, progress=False)
    train = result.metrics["train"]
    tokens = train[-1].get("num_tokens") if train else None
    figures = {
        "train_seconds": result.metrics["summary"]["train_seconds"],
        "num_tokens": tokens,
        "final_loss": result.metrics["summary"].get("final_train_loss"),
    }
    if on_gpu:
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
    parser.add_argument("--tiny", action="store_true", help="small shape on the CPU, to check the script works")
    parser.add_argument("--workdir", default=None, help="where the random checkpoint is written (kept for reuse)")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--grad-accum", type=int, default=4)
    parser.add_argument("--child", nargs=3, metavar=("MODEL", "DATA", "PRECOMPUTE"))
    a = parser.parse_args()
    if a.child:
        model, data, precompute = a.child
        child(model, data, precompute == "1", a.steps, a.max_length, a.grad_accum)
        return

    steps = 2 if a.tiny and a.steps == 6 else a.steps
    max_length = 128 if a.tiny and a.max_length == 1024 else a.max_length
    work = Path(a.workdir or tempfile.mkdtemp(prefix="bench-gpu-dpo-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    model = make_checkpoint(work / ("tiny" if a.tiny else "llama3-8b-random"), TINY if a.tiny else LLAMA3_8B)
    print(f"checkpoint ready in {time.monotonic() - started:.0f} s: {model}", flush=True)
    data = long_pairs(work / "pairs.jsonl", n=40, words=max_length // 4)

    from trainers.config import load_config
    from trainers.memory import ArchShape, estimate, read_model_config

    shape = ArchShape.from_config(read_model_config(str(model)))
    for precompute in (False, True):
        cfg = load_config(
            "dpo",
            None,
            dict(
                model=str(model),
                data=str(data),
                output=str(work / "o"),
                batch_size=1,
                grad_accum=a.grad_accum,
                max_length=max_length,
                precompute_ref=precompute,
            ),
        )
        import torch

        device = "gpu" if torch.cuda.is_available() else "cpu"  # --tiny on the CPU: compare with peak RSS
        checkpoint = sum(f.stat().st_size for f in model.glob("*.safetensors")) if device == "cpu" else 0
        est = estimate(cfg, shape, device, checkpoint_bytes=checkpoint)["total"] / 2**30
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                str(model),
                str(data),
                "1" if precompute else "0",
                "--steps",
                str(steps),
                "--max-length",
                str(max_length),
                "--grad-accum",
                str(a.grad_accum),
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if proc.returncode or not lines:
            sys.exit(f"run failed (precompute_ref={precompute}):\n{proc.stderr[-3000:]}")
        r = json.loads(lines[-1][7:])
        tps = (r["num_tokens"] or 0) / r["train_seconds"] if r["train_seconds"] else float("nan")
        memory = (
            f"peak allocated {r['peak_allocated_gib']:.2f} GiB, reserved {r['peak_reserved_gib']:.2f} GiB"
            if "peak_allocated_gib" in r
            else f"peak RSS {r['peak_rss_gib']:.2f} GiB"
        )
        print(
            f"{'tiny' if a.tiny else 'Llama-3-8B shape'} DPO QLoRA, {max_length} tokens, batch 1 x accumulation "
            f"{a.grad_accum}, precompute_ref={precompute} on {r['device']}: {memory}; "
            f"{tps:.0f} tokens/s over {steps} steps; dry-run estimate {est:.2f} GiB; loss {r['final_loss']}"
        )
        if "peak_reserved_gib" in r:
            print(f"  fits 16 GB: {'yes' if r['peak_reserved_gib'] * 2**30 <= 16 * 10**9 else 'NO'}")


if __name__ == "__main__":
    main()
