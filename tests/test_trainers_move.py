"""Every trainer must move the model the way its data asks: a trainer that does nothing fails here.

A sign error, a mask that drops every answer token, a reference that drifts with the policy or a learning
rate that rounds to zero would each leave a run that logs finite losses and saves an adapter; these tests
measure the model itself before and after (the adapter disabled is the model before). Tiny models built in
the fixtures, fixed seeds, a few steps each, float32 LoRA (the CPU injected by the conftest has no bf16).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from trainers_fixtures import *  # noqa: F403
from trainers_fixtures import TOPICS, write_jsonl

from rlhf_tui.cli import main as cli_main

LIKED, DISLIKED = "water", "dog"  # one token each in the fixture tokenizer
FILLER = ["seven", "wizards", "quietly", "judge", "boxing", "matches", "lazy", "brown", "over", "while"]


def _cfg(kind: str, **over):
    from trainers.config import load_config

    base = dict(max_length=48, batch_size=4, grad_accum=1, logging_steps=1, save_steps=1000, eval_split=0.0)
    base.update(warmup=0, lr_scheduler="constant", seed=0)
    return load_config(kind, None, {**base, **over})


def _prompts(n: int) -> list[str]:
    return [f"please explain {TOPICS[i % len(TOPICS)]} {i} briefly" for i in range(n)]


def _answer(rng: random.Random, first: str) -> str:
    return first + " " + " ".join(rng.choice(FILLER) for _ in range(4))


def _token_pairs(n: int = 16, seed: int = 0) -> list[dict]:
    """Preference pairs that differ only in their first word: LIKED is chosen, DISLIKED rejected."""
    rng = random.Random(seed)
    rows = []
    for prompt in _prompts(n):
        rest = _answer(rng, "")
        rows.append({"prompt": prompt, "chosen": LIKED + rest, "rejected": DISLIKED + rest})
    return rows


def _import_pairs(db: Path, rows: list[dict], tmp_path: Path) -> None:
    """The pairs into the store as one ranking each (chosen first), as people's rankings would be."""
    from store.connect import open_store

    store = open_store(db)
    try:
        store.import_file(write_jsonl(tmp_path / "pairs.jsonl", rows), "prefs", keep_labels="imported")
    finally:
        store.close()


def _first_token_logprob(model, tok, prompts: list[str], word: str) -> float:
    """Mean log-probability that the answer starts with `word`, exactly (no sampling)."""
    import torch

    from trainers.formatting import encode_prompt

    (token,) = tok.encode(word, add_special_tokens=False)
    total = 0.0
    with torch.no_grad():
        for p in prompts:
            logits = model(input_ids=torch.tensor([encode_prompt(tok, p)])).logits[0, -1].float()
            total += torch.log_softmax(logits, -1)[token].item()
    return total / len(prompts)


def _before_after(result, measure) -> tuple[float, float]:
    """`measure(model, tok)` of the base (the adapter disabled) and of the trained policy."""
    model, tok = result.trainer.model, result.trainer.processing_class
    model.eval()
    after = measure(model, tok)
    with model.disable_adapter():
        before = measure(model, tok)
    return before, after


def test_dpo_on_pairs_that_prefer_a_token_raises_its_log_probability(tiny_model_dir, tmp_path):
    from trainers.run import run_training

    data = write_jsonl(tmp_path / "pairs.jsonl", _token_pairs())
    cfg = _cfg("dpo", data=str(data), model=str(tiny_model_dir), output=str(tmp_path / "dpo"), max_steps=8, learning_rate=2e-3)
    result = run_training(cfg, progress=False)
    prompts = _prompts(16)
    liked = _before_after(result, lambda m, t: _first_token_logprob(m, t, prompts, LIKED))
    disliked = _before_after(result, lambda m, t: _first_token_logprob(m, t, prompts, DISLIKED))
    assert liked[1] > liked[0] + 0.5, liked
    assert disliked[1] < disliked[0] - 0.5, disliked
    margins = [row["rewards/margins"] for row in result.metrics["train"]]
    assert margins[-1] > margins[0], margins



def test_a_test_that_does_not_ask_for_a_device_runs_once(request):
    # The conftest's device fixture is autouse; only tests that name `host_device` run on both CPUs.
    assert "[" not in request.node.name
