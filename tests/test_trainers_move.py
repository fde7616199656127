"""Every trainer must move the model the way its data asks: a trainer that does nothing fails here.

A sign error, a mask that drops every answer token, a reference that drifts with the policy or a learning
rate that rounds to zero would each leave a run that logs finite losses and saves an adapter; these tests
measure the model itself before and after (the adapter disabled is the model before). Tiny models built in
the fixtures, fixed seeds, a few steps each, float32 LoRA (the CPU injected by the conftest has no bf16).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

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


def _prompts(n: int, numbered: bool = True) -> list[str]:
    return [f"please explain {TOPICS[i % len(TOPICS)]}{f' {i}' if numbered else ''} briefly" for i in range(n)]


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
    cfg = _cfg(
        "dpo", data=str(data), model=str(tiny_model_dir), output=str(tmp_path / "dpo"), max_steps=8, learning_rate=2e-3
    )
    result = run_training(cfg, progress=False)
    prompts = _prompts(16)
    liked = _before_after(result, lambda m, t: _first_token_logprob(m, t, prompts, LIKED))
    disliked = _before_after(result, lambda m, t: _first_token_logprob(m, t, prompts, DISLIKED))
    assert liked[1] > liked[0] + 0.5, liked
    assert disliked[1] < disliked[0] - 0.5, disliked
    margins = [row["rewards/margins"] for row in result.metrics["train"]]
    assert margins[-1] > margins[0], margins


def test_kto_from_a_store_dataset_raises_the_desirable_tokens_log_probability(tiny_model_dir, tmp_path, capsys):
    # Rankings in the store: the best answer of each record is desirable, the worst undesirable.
    db = tmp_path / "rlhf.duckdb"
    _import_pairs(db, _token_pairs(), tmp_path)
    out = tmp_path / "kto"
    args = ["train", "kto", "--dataset", "prefs", "--store", str(db), "--model", str(tiny_model_dir)]
    args += ["--output", str(out), "--max-steps", "12", "--learning-rate", "2e-3", "--eval-split", "0"]
    args += ["--max-length", "48", "--batch-size", "4", "--grad-accum", "1", "--warmup", "0", "--seed", "0"]
    assert cli_main(args) == 0, capsys.readouterr().err
    from trainers.modeling import load_trained

    model, tok = load_trained(out, str(tiny_model_dir), "kto", load_in_4bit=False, bf16=False)
    model.eval()
    prompts = _prompts(16)
    after = [_first_token_logprob(model, tok, prompts, w) for w in (LIKED, DISLIKED)]
    with model.disable_adapter():
        before = [_first_token_logprob(model, tok, prompts, w) for w in (LIKED, DISLIKED)]
    assert after[0] > before[0] + 0.3 and after[1] < before[1] - 0.3, (before, after)
    assert after[0] - after[1] > before[0] - before[1] + 1.5, (before, after)
    summary = json.loads((out / "metrics.json").read_text())["summary"]
    assert summary["train_pairs"] == 32  # 16 records: one desirable and one undesirable answer each


def _token_nll(model, rows) -> tuple[float, float]:
    """Mean next-token loss over the answer tokens and over the prompt tokens of tokenised SFT rows."""
    import torch

    sums, counts = [0.0, 0.0], [0, 0]
    with torch.no_grad():
        for row in rows:
            ids = torch.tensor([row["input_ids"]])
            logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
            nll = -logp.gather(1, ids[0, 1:, None])[:, 0]
            for position, mask in enumerate(row["completion_mask"][1:]):
                side = 0 if mask else 1
                sums[side] += nll[position].item()
                counts[side] += 1
    return sums[0] / counts[0], sums[1] / counts[1]


def test_sft_from_a_store_dataset_lowers_the_loss_on_its_answers_and_not_on_its_prompts(tiny_model_dir, tmp_path):
    from trainers.run import prepare_data, run_training

    db = tmp_path / "rlhf.duckdb"
    _import_pairs(db, _token_pairs(), tmp_path)
    cfg = _cfg(
        "sft",
        dataset="prefs",
        store=str(db),
        model=str(tiny_model_dir),
        output=str(tmp_path / "sft"),
        max_steps=12,
        learning_rate=5e-3,
    )
    result = run_training(cfg, progress=False)
    rows = prepare_data(cfg, result.trainer.processing_class).train
    assert len(rows) == 16  # the Borda-best answer of each record
    (answer_before, prompt_before), (answer_after, prompt_after) = _before_after(
        result, lambda m, t: _token_nll(m, rows)
    )
    # The answers (the chosen ones, starting with LIKED) are learnt. The prompts, as repetitive, are not trained on:
    # with the loss on every token they fall as far as the answers (measured: 0.80 against 0.69 nats).
    assert answer_after < answer_before - 0.4, (answer_before, answer_after)
    assert abs(prompt_after - prompt_before) < 0.25 * (answer_before - answer_after), (prompt_before, prompt_after)


def _token_reward_pairs(tok, token: int, n: int = 64, seed: int = 0) -> list[dict]:
    """Gibberish answers of equal length: the chosen one has `token` at 1–3 places where the rejected has others."""
    rng = random.Random(seed)

    def other() -> int:
        return rng.choice([i for i in range(len(tok.all_special_ids), len(tok)) if i != token])

    rows = []
    for prompt in _prompts(8, numbered=False) * (n // 8):
        base = [other() for _ in range(6)]
        good, bad = list(base), list(base)
        for _ in range(rng.randint(1, 3)):
            k = rng.randrange(len(good) + 1)
            good.insert(k, token)
            bad.insert(k, other())
        rows.append({"prompt": prompt, "chosen": tok.decode(good), "rejected": tok.decode(bad)})
    return rows


def _samples(model, tok, prompts: list[str], n: int = 4, tokens: int = 8) -> list[int]:
    """The tokens of `n` sampled answers per prompt, with a fixed seed (one prompt at a time: no padding)."""
    import torch

    from trainers.formatting import encode_prompt

    torch.manual_seed(0)
    out: list[int] = []
    with torch.no_grad():
        for p in prompts:
            ids = torch.tensor([encode_prompt(tok, p)] * n)
            sampled = model.generate(
                input_ids=ids, do_sample=True, max_new_tokens=tokens, pad_token_id=tok.eos_token_id
            )
            out += sampled[:, ids.shape[1] :].flatten().tolist()
    return out


def test_rloo_against_a_reward_model_that_prefers_a_token_raises_its_share_in_samples(
    tiny_model_dir, peaked_tiny_model_dir, tmp_path
):
    from collections import Counter

    from trainers.modeling import load_for_inference
    from trainers.run import run_training

    prompts = _prompts(8, numbered=False)
    base, tok = load_for_inference(str(peaked_tiny_model_dir), "rloo")
    # The token the base already samples most (a few percent): RL can only raise what it ever samples.
    token = Counter(t for t in _samples(base, tok, prompts) if t not in tok.all_special_ids).most_common(1)[0][0]
    pairs = write_jsonl(tmp_path / "pairs.jsonl", _token_reward_pairs(tok, token))
    rm = tmp_path / "rm"
    reward_cfg = _cfg(
        "reward", data=str(pairs), model=str(tiny_model_dir), output=str(rm), max_steps=10, learning_rate=1e-3
    )
    run_training(reward_cfg, progress=False)
    data = write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": p} for p in prompts])
    cfg = _cfg(
        "rloo",
        data=str(data),
        model=str(peaked_tiny_model_dir),
        output=str(tmp_path / "rloo"),
        reward_model=str(rm),
        max_steps=8,
        learning_rate=2e-2,
        kl_coef=0.0,
        num_generations=8,
        batch_size=16,
        max_new_tokens=8,
        mask_truncated=False,  # the random policy never ends an answer: masked, nothing would learn
    )
    result = run_training(cfg, progress=False)
    before, after = _before_after(result, lambda m, t: _samples(m, t, prompts).count(token) / (len(prompts) * 32))
    assert after > before + 0.2, (tok.decode([token]), before, after)
    rewards = [row["reward"] for row in result.metrics["train"]]
    assert sum(rewards[-3:]) > sum(rewards[:3]), rewards


def test_a_test_that_does_not_ask_for_a_device_runs_once(request):
    # The conftest's device fixture is autouse; only tests that name `host_device` run on both CPUs.
    assert "[" not in request.node.name
