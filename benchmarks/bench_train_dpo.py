"""`rlhf-tui train dpo` against a plain TRL script with the identical configuration (CPU, tiny model).

Each side runs in its own subprocess (so peak RSS is its own), `--repeats` times in ABBA order (the side
that goes first alternates, so a slow drift of the machine's load hits both alike). For each run it
records the wall time and the CPU time (all threads) of trainer.train() -- the same wrapper times both
sides --, the whole-process time and the peak RSS; it prints every run, the median and the spread
(min-max) per side, and the time ratio ours/plain of the medians and of each adjacent pair (goal <= 1.05).

On a shared machine the wall time of a 2-thread CPU run swings by tens of percent with other tenants'
load (an OpenMP region waits for its slowest thread); the CPU time and the paired ratios are the steadier
figures. `--threads 1` runs both sides single-threaded, which makes them steadier still.

    .venv/bin/python benchmarks/bench_train_dpo.py [--steps 20] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

SETTINGS = dict(
    max_length=128,
    batch_size=4,
    grad_accum=2,
    lora_r=16,
    lora_alpha=32,
    lora_dropout=0.05,
    learning_rate=5e-6,
    beta=0.1,
    seed=42,
)


def run_ours(model: str, data: str, out: str, steps: int) -> dict:
    from trainers.config import load_config
    from trainers.run import run_training

    s = SETTINGS
    cfg = load_config(
        "dpo",
        None,
        dict(
            model=model,
            data=data,
            output=out,
            max_steps=steps,
            eval_split=0.0,
            max_length=s["max_length"],
            batch_size=s["batch_size"],
            grad_accum=s["grad_accum"],
            lora_r=s["lora_r"],
            lora_alpha=s["lora_alpha"],
            lora_dropout=s["lora_dropout"],
            learning_rate=s["learning_rate"],
            beta=s["beta"],
            seed=s["seed"],
            save_steps=10_000,
            logging_steps=10,
        ),
    )
    result = run_training(cfg, progress=True)
    return {"train_seconds": result.metrics["summary"]["train_seconds"]}


def run_plain_trl(model: str, data: str, out: str, steps: int) -> dict:
    """What a user would write by hand with TRL 1.x, peft and bitsandbytes."""
    import torch
    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
    from trl import DPOConfig, DPOTrainer

    s = SETTINGS
    tok = AutoTokenizer.from_pretrained(model)
    tok.pad_token = tok.pad_token or tok.eos_token
    bnb = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )
    policy = AutoModelForCausalLM.from_pretrained(model, quantization_config=bnb, dtype=torch.bfloat16)
    dataset = load_dataset("json", data_files=data, split="train").select_columns(["prompt", "chosen", "rejected"])
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    peft_config = LoraConfig(
        r=s["lora_r"],
        lora_alpha=s["lora_alpha"],
        lora_dropout=s["lora_dropout"],
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    args = DPOConfig(
        output_dir=out,
        max_steps=steps,
        per_device_train_batch_size=s["batch_size"],
        gradient_accumulation_steps=s["grad_accum"],
        learning_rate=s["learning_rate"],
        warmup_steps=0.1,
        lr_scheduler_type="cosine",
        optim="adamw_torch",
        beta=s["beta"],
        max_length=s["max_length"],
        gradient_checkpointing=True,
        gradient_checkpointing_kwargs={"use_reentrant": False},
        bf16=True,
        disable_dropout=False,  # as rlhf-tui trains: LoRA dropout active (TRL's default would zero it)
        seed=s["seed"],
        report_to="none",
        save_steps=10_000,
        logging_steps=10,
        use_cpu=True,
    )
    trainer = DPOTrainer(model=policy, args=args, train_dataset=dataset, processing_class=tok, peft_config=peft_config)
    started = time.monotonic()
    trainer.train()
    seconds = time.monotonic() - started
    trainer.save_model(out)
    return {"train_seconds": round(seconds, 3)}


def child(role: str, model: str, data: str, steps: int, threads: int | None) -> None:
    import torch
    from trl import DPOTrainer

    if threads:
        torch.set_num_threads(threads)
    timed: dict = {}
    original_train = DPOTrainer.train

    def timed_train(self, *args, **kwargs):  # the same stopwatch around trainer.train() on both sides
        wall, cpu = time.monotonic(), time.process_time()
        try:
            return original_train(self, *args, **kwargs)
        finally:
            timed["train_seconds"] = round(time.monotonic() - wall, 3)
            timed["train_cpu_seconds"] = round(time.process_time() - cpu, 3)

    DPOTrainer.train = timed_train
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as out:
        figures = (run_ours if role == "ours" else run_plain_trl)(model, data, out, steps)
    figures["own_train_seconds"] = figures.pop("train_seconds")  # each side's own timer, for the record
    figures.update(timed)
    figures["process_seconds"] = round(time.monotonic() - started, 3)
    figures["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    figures["threads"] = torch.get_num_threads()
    print("RESULT " + json.dumps(figures), flush=True)


def spread(values: list[float]) -> str:
    med = statistics.median(values)
    low, high = min(values), max(values)
    return f"{med:7.2f} (min {low:.2f}, max {high:.2f}, spread {(high - low) / med:5.1%})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads on both sides (default: torch's)")
    parser.add_argument("--child", choices=["ours", "plain"])
    parser.add_argument("--model")
    parser.add_argument("--data")
    a = parser.parse_args()
    if a.child:
        child(a.child, a.model, a.data, a.steps, a.threads)
        return

    from trainers_fixtures import build_tiny_model, preference_rows, write_jsonl

    work = Path(tempfile.mkdtemp(prefix="bench-dpo-"))
    model = build_tiny_model(work / "model", hidden=256, layers=4)
    data = write_jsonl(work / "prefs.jsonl", preference_rows(n_prompts=60, pairs_per_prompt=3))
    results: dict[str, list[dict]] = {"ours": [], "plain": []}
    print(
        f"tiny Llama (hidden 256, 4 layers, vocab 512), 4-bit NF4 QLoRA DPO on CPU, {a.steps} steps, "
        f"batch {SETTINGS['batch_size']} x accumulation {SETTINGS['grad_accum']}, max length "
        f"{SETTINGS['max_length']}, {a.repeats} repeats each in ABBA order",
        flush=True,
    )
    for n in range(a.repeats):
        for role in ("plain", "ours") if n % 2 == 0 else ("ours", "plain"):
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    role,
                    "--model",
                    str(model),
                    "--data",
                    str(data),
                    "--steps",
                    str(a.steps),
                    *(["--threads", str(a.threads)] if a.threads else []),
                ],
                capture_output=True,
                text=True,
                cwd=REPO,
            )
            lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
            if proc.returncode or not lines:
                sys.exit(f"{role} failed:\n{proc.stderr[-3000:]}")
            r = json.loads(lines[-1][7:])
            results[role].append(r)
            print(
                f"  run {n + 1} {role:<5} train() {r['train_seconds']:7.2f} s wall, {r['train_cpu_seconds']:7.2f} s "
                f"CPU ({r['threads']} threads)   process {r['process_seconds']:7.2f} s   peak RSS "
                f"{r['peak_rss_mib']:7.1f} MiB   load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    print("median (min, max, spread = (max-min)/median):")
    for role, label in (("plain", "plain TRL script"), ("ours", "rlhf-tui train dpo")):
        runs = results[role]
        print(f"  {label:<20} train() wall {spread([r['train_seconds'] for r in runs])} s")
        print(f"  {'':<20} train() CPU  {spread([r['train_cpu_seconds'] for r in runs])} s")
        print(f"  {'':<20} process      {spread([r['process_seconds'] for r in runs])} s")
        print(f"  {'':<20} peak RSS     {spread([r['peak_rss_mib'] for r in runs])} MiB")
    med = {
        role: {
            k: statistics.median(r[k] for r in runs)
            for k in ("train_seconds", "train_cpu_seconds", "process_seconds", "peak_rss_mib")
        }
        for role, runs in results.items()
    }
    paired = [o["train_seconds"] / p["train_seconds"] for o, p in zip(results["ours"], results["plain"])]
    paired_cpu = [o["train_cpu_seconds"] / p["train_cpu_seconds"] for o, p in zip(results["ours"], results["plain"])]
    print(
        f"  time ratio ours/plain (medians): train() wall {med['ours']['train_seconds'] / med['plain']['train_seconds']:.3f}, "
        f"train() CPU {med['ours']['train_cpu_seconds'] / med['plain']['train_cpu_seconds']:.3f}, "
        f"process {med['ours']['process_seconds'] / med['plain']['process_seconds']:.3f} (goal <= 1.05)"
    )
    print(
        f"  paired ratios per repeat: wall {', '.join(f'{x:.3f}' for x in paired)}; "
        f"CPU {', '.join(f'{x:.3f}' for x in paired_cpu)}"
    )
    print(f"  peak RSS ratio ours/plain: {med['ours']['peak_rss_mib'] / med['plain']['peak_rss_mib']:.3f}")


if __name__ == "__main__":
    main()
