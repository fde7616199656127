"""Reward and DPO training on a tiny Llama built in a fixture, through the real 4-bit CPU path."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from trainers_fixtures import *  # noqa: F403
from trainers_fixtures import preference_rows, write_jsonl

from rlhf_tui.cli import main as cli_main

REPO = Path(__file__).resolve().parents[1]
FAST = ["--max-length", "64", "--batch-size", "2", "--grad-accum", "1", "--logging-steps", "1"]


def _cfg(kind, **over):
    from trainers.config import load_config

    base = dict(max_length=64, batch_size=2, grad_accum=1, logging_steps=1, save_steps=100)
    return load_config(kind, None, {**base, **over})


def _finite_losses(metrics):
    losses = [row["loss"] for row in metrics["train"]]
    return losses and all(v is not None and math.isfinite(v) for v in losses)


def test_reward_4bit_saves_adapter_and_head_that_reload_to_the_same_scores(tiny_model_dir, pref_jsonl, tmp_path):
    from trainers.modeling import load_trained
    from trainers.run import run_training
    from trainers.scoring import score_answers

    out = tmp_path / "rm"
    result = run_training(
        _cfg(
            "reward",
            data=str(pref_jsonl),
            model=str(tiny_model_dir),
            output=str(out),
            max_steps=3,
            group_by_prompt=True,
            use_margin=True,
            load_in_4bit=True,  # the 4-bit CPU path, whatever this CPU's auto choice
            bf16=True,
        ),
        progress=False,
    )
    assert _finite_losses(result.metrics)
    summary = json.loads((out / "metrics.json").read_text())["summary"]
    assert summary["global_step"] == 3 and summary["eval_accuracy"] is not None
    assert (out / "curves.png").stat().st_size > 0 and (out / "train_config.yaml").is_file()
    from safetensors import safe_open

    with safe_open(out / "adapter_model.safetensors", "pt") as f:
        keys = list(f.keys())
    assert any(k.endswith("score.weight") for k in keys) and any("lora_A" in k for k in keys)

    # The model in memory has been through the final evaluation and the save: it must still be the one on disk.
    pairs = [(r["prompt"], r["chosen"]) for r in preference_rows(n_prompts=3, pairs_per_prompt=1)]
    trained = result.trainer.model
    trained.eval()
    before = score_answers(trained, result.trainer.processing_class, pairs, batch_size=1)
    reloaded, tok = load_trained(out, str(tiny_model_dir), "reward", load_in_4bit=True)
    assert tok.pad_token is not None  # the pad-token fix is saved with the tokenizer
    after = score_answers(reloaded, tok, pairs, batch_size=1)
    assert after == pytest.approx(before, abs=1e-6)
    assert len(set(before)) > 1


def test_the_same_seed_trains_the_same_adapter_and_head(tiny_model_dir, pref_jsonl, tmp_path):
    from safetensors.torch import load_file

    from trainers.run import run_training

    common = dict(data=str(pref_jsonl), model=str(tiny_model_dir), max_steps=1, load_in_4bit=False, eval_split=0.0)
    weights = []
    for name in ("a", "b"):
        run_training(_cfg("reward", output=str(tmp_path / name), **common), progress=False)
        weights.append(load_file(tmp_path / name / "adapter_model.safetensors"))
    assert weights[0].keys() == weights[1].keys()
    assert all(weights[0][k].equal(weights[1][k]) for k in weights[0])


def test_group_by_prompt_batches_hold_whole_prompts(tiny_model_dir, pref_jsonl, tmp_path):
    from datasets import Dataset

    from trainers.modeling import load_model, load_tokenizer, resolve_model_source
    from trainers.run import build_trainer, prepare_data

    cfg = _cfg(
        "reward",
        data=str(pref_jsonl),
        model=str(tiny_model_dir),
        output=str(tmp_path / "g"),
        group_by_prompt=True,
        batch_size=4,
        load_in_4bit=False,
    )
    tok = load_tokenizer(resolve_model_source(cfg.model.model))
    data = prepare_data(cfg, tok)
    trainer = build_trainer(cfg, load_model(cfg.model, "reward", True), tok, data.train, data.eval)
    loader = trainer.get_train_dataloader()
    sampler, kept = loader.batch_sampler, trainer.train_dataset
    assert sampler is not None and isinstance(kept, Dataset)
    groups = kept["group_id"]
    order = [i for batch in sampler for i in batch]
    assert sorted(order) == list(range(len(groups)))
    seen: dict[int, set[int]] = {}
    for n, batch in enumerate(sampler):
        for i in batch:
            seen.setdefault(groups[i], set()).add(n)
    assert all(len(v) == 1 for v in seen.values())


def test_dpo_cli_chat_precompute_ref_and_merge(tiny_model_dir, chat_pref_jsonl, tmp_path, capsys):
    out = tmp_path / "dpo"
    code = cli_main(
        [
            "train",
            "dpo",
            "--data",
            str(chat_pref_jsonl),
            "--model",
            str(tiny_model_dir),
            "--output",
            str(out),
            "--max-steps",
            "2",
            "--precompute-ref",
            "--beta",
            "0.2",
            "--loss-type",
            "sigmoid",
            "--merge",
            "--4bit",
            "--bf16",
            *FAST,
        ]
    )
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert _finite_losses(metrics) and metrics["summary"]["global_step"] == 2
    assert "eval reward accuracy" in capsys.readouterr().out
    assert (out / "adapter_model.safetensors").is_file()
    merged = out / "merged"
    assert (merged / "config.json").is_file() and any(merged.glob("*.safetensors"))
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(merged)
    assert model.dtype.is_floating_point and "quantization_config" not in json.loads(
        (merged / "config.json").read_text()
    )


def test_ctrl_c_saves_a_checkpoint_and_resume_continues(tiny_model_dir, pref_jsonl, tmp_path):
    from transformers import TrainerCallback

    from trainers.run import run_training

    class CtrlCAtStep2(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == 1:
                os.kill(os.getpid(), signal.SIGINT)

    out = tmp_path / "rm"
    common = dict(data=str(pref_jsonl), model=str(tiny_model_dir), output=str(out), load_in_4bit=False)
    first = run_training(_cfg("reward", max_steps=5, **common), extra_callbacks=[CtrlCAtStep2()], progress=False)
    assert first.interrupted and first.checkpoint == out / "checkpoint-2" and (out / "checkpoint-2").is_dir()
    assert not (out / "adapter_model.safetensors").exists()

    second = run_training(_cfg("reward", max_steps=4, resume=True, **common), progress=False)
    summary = second.metrics["summary"]
    assert summary["resumed_from_step"] == 2 and summary["global_step"] == 4 and not second.interrupted
    new_steps = [row["step"] for row in second.metrics["train"] if row["step"] > 2]
    assert new_steps and min(new_steps) == 3


def test_resume_without_checkpoint_is_an_error(tiny_model_dir, pref_jsonl, tmp_path, capsys):
    code = cli_main(
        [
            "train",
            "reward",
            "--data",
            str(pref_jsonl),
            "--model",
            str(tiny_model_dir),
            "--output",
            str(tmp_path / "none"),
            "--resume",
            *FAST,
        ]
    )
    assert code == 1
    assert capsys.readouterr().err.strip().startswith("error: --resume: no checkpoint")


def test_dry_run_prints_an_estimate_without_loading(tiny_model_dir, capsys):
    code = cli_main(
        ["train", "dpo", "--model", str(tiny_model_dir), "--dry-run", "--gpu-memory", "24GB", "--max-length", "512"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "estimated peak GPU memory" in out and "fits in 24.00 GiB" in out


def test_dry_run_for_an_8b_architecture_says_whether_it_fits(tmp_path, capsys):
    folder = tmp_path / "llama8b"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps(
            {
                "model_type": "llama",
                "vocab_size": 128256,
                "hidden_size": 4096,
                "intermediate_size": 14336,
                "num_hidden_layers": 32,
                "num_attention_heads": 32,
                "num_key_value_heads": 8,
            }
        )
    )
    assert cli_main(["train", "dpo", "--model", str(folder), "--dry-run", "--gpu-memory", "8GB"]) == 0
    assert "does NOT fit" in capsys.readouterr().out
    assert (
        cli_main(
            [
                "train",
                "dpo",
                "--model",
                str(folder),
                "--dry-run",
                "--gpu-memory",
                "24GB",
                "--batch-size",
                "1",
                "--max-length",
                "1024",
            ]
        )
        == 0
    )
    assert "fits in 24.00 GiB" in capsys.readouterr().out


def test_out_of_memory_is_one_line_with_suggestions(tiny_model_dir, pref_jsonl, tmp_path, capsys, monkeypatch):
    import torch
    from transformers import Trainer

    def boom(self, *a, **k):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(Trainer, "train", boom)
    code = cli_main(
        [
            "train",
            "dpo",
            "--data",
            str(pref_jsonl),
            "--model",
            str(tiny_model_dir),
            "--output",
            str(tmp_path / "o"),
            *FAST,
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 1 and "Traceback" not in err
    assert err.splitlines()[0].startswith("precision: ")  # the run's one note before it started
    err = err.splitlines()[-1]
    assert err.startswith("error: out of memory") and "--max-length 64" in err and "--precompute-ref" in err


def test_missing_model_folder_is_one_line(pref_jsonl, tmp_path, capsys):
    code = cli_main(
        [
            "train",
            "reward",
            "--data",
            str(pref_jsonl),
            "--model",
            str(tmp_path / "no-model"),
            "--output",
            str(tmp_path / "o"),
        ]
    )
    assert code == 1 and capsys.readouterr().err.strip() == f"error: model not found: {tmp_path / 'no-model'}"


def test_dataset_straight_from_the_store(tiny_model_dir, tmp_path):
    from store.connect import open_store

    rows = preference_rows(n_prompts=8, pairs_per_prompt=1)
    for r in rows:
        for key in ("margin", "record_id", "annotator"):
            r.pop(key)
    trl_file = write_jsonl(tmp_path / "trl.jsonl", rows)
    db = tmp_path / "rlhf.duckdb"
    store = open_store(db)
    try:
        store.import_file(trl_file, "demo", keep_labels="imported")
    finally:
        store.close()
    out = tmp_path / "rm"
    code = cli_main(
        [
            "train",
            "reward",
            "--dataset",
            "demo",
            "--store",
            str(db),
            "--model",
            str(tiny_model_dir),
            "--output",
            str(out),
            "--max-steps",
            "1",
            "--eval-split",
            "0.25",
            *FAST,
        ]
    )
    assert code == 0
    summary = json.loads((out / "metrics.json").read_text())["summary"]
    assert summary["train_pairs"] + summary["eval_pairs"] == 8 and summary["eval_prompts"] == 2


def test_two_process_accelerate_run_finishes(tiny_model_dir, pref_jsonl, tmp_path):
    out = tmp_path / "ddp"
    accelerate = Path(sys.executable).with_name("accelerate")
    # `--multi_gpu` picks accelerate's torch.distributed launcher, which runs gloo on a CPU-only machine;
    # `--cpu` with several processes would need MPI.
    cmd = [
        str(accelerate),
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "-m",
        "rlhf_tui.cli",
        "train",
        "dpo",
        "--data",
        str(pref_jsonl),
        "--model",
        str(tiny_model_dir),
        "--output",
        str(out),
        "--max-steps",
        "2",
        # precision named, not detected: the subprocesses would read the host's CPU flags (no fixture reaches them)
        "--no-4bit",
        "--no-bf16",
        *FAST,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((out / "metrics.json").read_text())["summary"]
    assert summary["world_size"] == 2 and summary["global_step"] == 2
    # 6 held-out pairs over 2 processes in batches of 2: each pair counted once, the padding of the last dropped
    assert summary["eval_held_out"]["pairs"] == summary["eval_pairs"] == 6
    assert (out / "adapter_model.safetensors").is_file()
