"""SFT, KTO and RLOO on a tiny Llama built in a fixture, through the real 4-bit CPU path (--4bit --bf16)."""

from __future__ import annotations

import json
import math
import os
import signal
from pathlib import Path

import pytest
from trainers_fixtures import *  # noqa: F403
from trainers_fixtures import TOPICS, preference_rows, write_jsonl

from rlhf_tui.cli import main as cli_main

FOUR_BIT = dict(load_in_4bit=True, bf16=True)
RLOO_FAST = dict(num_generations=2, max_new_tokens=8, batch_size=4, grad_accum=1, max_length=48, sample_every=1)


def sft_rows(n: int = 12) -> list[dict]:
    return [
        {"prompt": r["prompt"], "completion": r["chosen"]} for r in preference_rows(n_prompts=n, pairs_per_prompt=1)
    ]


def kto_rows(n: int = 8) -> list[dict]:
    rows = []
    for r in preference_rows(n_prompts=n, pairs_per_prompt=1):
        rows.append({"prompt": r["prompt"], "completion": r["chosen"], "label": True})
        rows.append({"prompt": r["prompt"], "completion": r["rejected"], "label": False})
    return rows  # sorted by prompt, as the store's export writes them


def prompt_rows(n: int = 8) -> list[dict]:
    return [{"prompt": f"please explain {TOPICS[i % len(TOPICS)]} briefly"} for i in range(n)]


def _cfg(kind, **over):
    from trainers.config import load_config

    base = dict(max_length=48, batch_size=2, grad_accum=1, logging_steps=1, save_steps=100, eval_split=0.0)
    return load_config(kind, None, {**base, **over})


def _data(kind: str, tmp_path: Path) -> Path:
    rows = {"sft": sft_rows(), "kto": kto_rows(), "rloo": prompt_rows()}[kind]
    return write_jsonl(tmp_path / f"{kind}.jsonl", rows)


def prefers_low_ids(completion_ids, **_):
    """A toy reward with a signal in every completion: the share of its tokens from the lower half of the vocabulary."""
    return [sum(t < LOW_IDS for t in ids) / max(1, len(ids)) for ids in completion_ids]


LOW_IDS = 256


def _extra(kind: str) -> dict:
    return {"rloo": RLOO_FAST}.get(kind, {})


def _reward(kind: str, tok_dir: Path):
    if kind != "rloo":
        return None
    return prefers_low_ids


def _policy_logits(model, tok, prompt: str):
    import torch

    from trainers.formatting import encode_prompt

    ids = torch.tensor([encode_prompt(tok, prompt)])
    with torch.no_grad():
        return model(input_ids=ids).logits[0, -1].float()


@pytest.mark.parametrize("kind", ["sft", "kto", "rloo"])
def test_a_step_saves_an_adapter_that_reloads_to_the_same_outputs_and_resume_continues(kind, tiny_model_dir, tmp_path):
    from transformers import TrainerCallback

    from trainers.modeling import load_trained
    from trainers.run import run_training

    class CtrlCAfterStep1(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == 1:
                os.kill(os.getpid(), signal.SIGINT)

    out = tmp_path / kind
    common = dict(data=str(_data(kind, tmp_path)), model=str(tiny_model_dir), output=str(out), **FOUR_BIT)
    common.update(_extra(kind))
    reward = _reward(kind, tiny_model_dir)
    first = run_training(
        _cfg(kind, max_steps=3, **common), extra_callbacks=[CtrlCAfterStep1()], progress=False, reward_function=reward
    )
    assert first.interrupted and (out / "checkpoint-2").is_dir()
    second = run_training(_cfg(kind, max_steps=3, resume=True, **common), progress=False, reward_function=reward)
    summary = second.metrics["summary"]
    assert summary["resumed_from_step"] == 2 and summary["global_step"] == 3
    losses = [row["loss"] for row in second.metrics["train"]]
    assert losses and all(v is not None and math.isfinite(v) for v in losses)
    assert (out / "adapter_model.safetensors").is_file() and (out / "metrics.json").is_file()
    assert (out / "curves.png").stat().st_size > 0

    trained = second.trainer.model
    trained.eval()
    tok = second.trainer.processing_class
    before = _policy_logits(trained, tok, "please explain water briefly")
    reloaded, tok2 = load_trained(out, str(tiny_model_dir), "dpo", load_in_4bit=True, bf16=True)
    after = _policy_logits(reloaded, tok2, "please explain water briefly")
    assert after.tolist() == pytest.approx(before.tolist(), abs=1e-4)
    if kind == "rloo":
        samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
        assert samples and {"step", "prompt", "completion", "reward", "tokens"} <= samples[0].keys()
        logged = second.metrics["train"][-1]
        assert "reward" in logged and "kl" in logged and "completions/mean_length" in logged


def test_rloo_raises_a_toy_reward_over_a_few_steps(peaked_tiny_model_dir, tmp_path):
    """The policy's expected toy reward on its first answer token (exact, not sampled) rises with training."""
    import torch

    from trainers.run import run_training

    def low_mass(model, tok) -> float:
        prompts = [r["prompt"] for r in prompt_rows()]
        return sum(torch.softmax(_policy_logits(model, tok, p), -1)[:LOW_IDS].sum().item() for p in prompts) / len(
            prompts
        )

    cfg = _cfg(
        "rloo",
        data=str(_data("rloo", tmp_path)),
        model=str(peaked_tiny_model_dir),
        output=str(tmp_path / "rloo"),
        max_steps=6,
        learning_rate=2e-2,
        warmup=0,
        lr_scheduler="constant",
        kl_coef=0.0,
        mask_truncated=False,  # the random model never ends an answer: masked, nothing would learn
        **{**RLOO_FAST, "num_generations": 4, "batch_size": 8, "max_new_tokens": 6},
        **FOUR_BIT,
    )
    result = run_training(cfg, progress=False, reward_function=prefers_low_ids)
    model, tok = result.trainer.model, result.trainer.processing_class
    model.eval()
    after = low_mass(model, tok)
    with model.disable_adapter():
        before = low_mass(model, tok)
    assert len(result.metrics["train"]) == 6
    rewards = [row["reward"] for row in result.metrics["train"]]
    assert after > before + 0.05, (before, after, rewards)


def test_rloo_scores_with_the_reward_model_as_trained(tiny_model_dir, pref_jsonl, tmp_path):
    from trainers.modeling import load_for_inference
    from trainers.run import run_training
    from trainers.scoring import score_answers

    rm = tmp_path / "rm"
    common = dict(model=str(tiny_model_dir), load_in_4bit=False, bf16=False)
    run_training(_cfg("reward", data=str(pref_jsonl), output=str(rm), max_steps=1, **common), progress=False)
    out = tmp_path / "rloo"
    cfg = _cfg(
        "rloo",
        data=str(_data("rloo", tmp_path)),
        output=str(out),
        reward_model=str(rm),
        max_steps=1,
        model=str(tiny_model_dir),
        **FOUR_BIT,
        **RLOO_FAST,
    )
    notes: list[str] = []
    run_training(cfg, progress=False, say=notes.append)
    # the random tiny model never ends an answer: every completion is cut, masked, and the run says so
    assert any("every completion was cut at --max-new-tokens" in n for n in notes), notes
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    judge, tok = load_for_inference(str(rm), "reward")
    expected = score_answers(judge, tok, [(s["prompt"], s["completion"]) for s in samples], max_length=48)
    assert [s["reward"] for s in samples] == pytest.approx(expected, abs=1e-4)
    assert len({round(s["reward"], 6) for s in samples}) > 1


@pytest.mark.parametrize("kind", ["sft", "kto", "rloo"])
def test_dry_run_prints_an_estimate(kind, tiny_model_dir, capsys):
    args = ["train", kind, "--model", str(tiny_model_dir), "--dry-run", "--gpu-memory", "24GB", "--max-length", "64"]
    assert cli_main([*args, *(["--max-new-tokens", "16"] if kind == "rloo" else [])]) == 0
    out = capsys.readouterr().out
    assert "estimated peak GPU memory" in out and "fits in 24.00 GiB" in out
    if kind == "rloo":
        assert "generation kv cache" in out and "reward model" in out and "4 completions per forward pass" in out


@pytest.mark.parametrize(
    ("kind", "flags", "message"),
    [
        ("kto", ["--batch-size", "1"], "error: KTO needs --batch-size 2 or more"),
        ("rloo", ["--batch-size", "3", "--grad-accum", "1"], "must be a multiple of --num-generations (4)"),
        ("sft", ["--packing"], "error: --packing needs an attention kernel"),
    ],
)
def test_impossible_settings_are_one_line_errors(kind, flags, message, tiny_model_dir, tmp_path, capsys):
    args = ["train", kind, "--data", str(tmp_path / "x.jsonl"), "--model", str(tiny_model_dir)]
    assert cli_main([*args, "--output", str(tmp_path / "o"), *flags]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_sft_learns_the_answer_only_and_reads_messages(tiny_model_dir, tmp_path):
    from trainers.config import load_config
    from trainers.modeling import load_tokenizer, resolve_model_source
    from trainers.run import prepare_data

    rows = [{"messages": [{"role": "user", "content": "why water"}, {"role": "assistant", "content": "air pressure"}]}]
    data = write_jsonl(tmp_path / "m.jsonl", rows)
    cfg = load_config("sft", None, dict(data=str(data), model=str(tiny_model_dir), output="o", eval_split=0.0))
    tok = load_tokenizer(resolve_model_source(str(tiny_model_dir)))
    row = prepare_data(cfg, tok).train[0]
    answer = [t for t, m in zip(row["input_ids"], row["completion_mask"]) if m]
    prompt = [t for t, m in zip(row["input_ids"], row["completion_mask"]) if not m]
    assert tok.decode(answer).startswith("air pressure") and "why water" in tok.decode(prompt)
    assert "<|assistant|>" in tok.decode(prompt)  # the chat template, the assistant turn opened


def test_kto_rows_are_shuffled_with_the_seed(tiny_model_dir, tmp_path):
    from trainers.modeling import load_tokenizer, resolve_model_source
    from trainers.run import prepare_data

    tok = load_tokenizer(resolve_model_source(str(tiny_model_dir)))
    common = dict(data=str(_data("kto", tmp_path)), model=str(tiny_model_dir), output="o")
    labels = [prepare_data(_cfg("kto", seed=s, **common), tok).train["label"] for s in (1, 1, 2)]
    assert labels[0] == labels[1] != labels[2]
    assert labels[0] != [True, False] * (len(labels[0]) // 2)  # not the export's record order
