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


def prefers_fox(completion_ids, **_):
    """A toy reward: how often the completion says 'fox'."""
    return [float(ids.count(FOX_ID)) for ids in completion_ids]


FOX_ID = -1


def _extra(kind: str) -> dict:
    return {"rloo": RLOO_FAST}.get(kind, {})


def _reward(kind: str, tok_dir: Path):
    if kind != "rloo":
        return None
    from transformers import AutoTokenizer

    global FOX_ID
    FOX_ID = AutoTokenizer.from_pretrained(tok_dir).convert_tokens_to_ids("fox")
    return prefers_fox


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
