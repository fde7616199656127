"""`--holdout`: prompts kept out of every run's training by a fixed hash, and `--holdout-only` for a judge."""

from __future__ import annotations

import json

import pytest
from trainers_fixtures import *  # noqa: F403
from trainers_fixtures import preference_rows, write_jsonl

from rlhf_tui.cli import main as cli_main
from trainers.data import held_out, holdout_side, prompt_key
from trainers.errors import TrainerError

KEYS = [prompt_key({"prompt": f"question number {i}: why is the sky blue?"}) for i in range(2000)]


def test_the_held_out_share_follows_the_fraction_and_a_larger_one_keeps_out_a_superset():
    for fraction in (0.1, 0.33, 0.5):
        share = sum(held_out(k, fraction) for k in KEYS) / len(KEYS)
        assert abs(share - fraction) < 0.04
    small = {k for k in KEYS if held_out(k, 0.2)}
    large = {k for k in KEYS if held_out(k, 0.4)}
    assert small < large
    assert not any(held_out(k, 0.0) for k in KEYS)


def test_a_prompt_is_held_out_by_its_text_alone_whatever_else_is_in_the_data():
    rows = [{"prompt": f"p{i}", "chosen": "a", "rejected": "b"} for i in range(40)]
    alone = {r["prompt"] for r in holdout_side(rows[:10], 0.5, True, "x")}
    together = {r["prompt"] for r in holdout_side(rows, 0.5, True, "x")}
    assert alone == {p for p in together if int(p[1:]) < 10}


def test_the_two_sides_share_no_prompt_and_together_are_the_whole_data():
    rows = [{"prompt": f"prompt {i % 30}", "chosen": f"a{i}", "rejected": "b"} for i in range(90)]
    trained = holdout_side(rows, 0.3, False, "x")
    judge = holdout_side(rows, 0.3, True, "x")
    assert not {prompt_key(r) for r in trained} & {prompt_key(r) for r in judge}
    assert len(trained) + len(judge) == len(rows)
    assert sorted(map(json.dumps, trained + judge)) == sorted(map(json.dumps, rows))
    assert holdout_side(rows, 0.0, False, "x") == rows


def test_a_side_left_empty_is_a_one_line_error_saying_which_way_to_move():
    rows = [{"prompt": "only one prompt", "chosen": "a", "rejected": "b"}]
    side = held_out(prompt_key(rows[0]), 0.5)
    with pytest.raises(TrainerError, match="lower --holdout" if side else "raise --holdout") as info:
        holdout_side(rows, 0.5, not side, "dataset 'demo'")
    assert "dataset 'demo'" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--holdout-only"], "error: --holdout-only needs --holdout FRACTION"),
        (["--holdout", "1.5"], "error: --holdout must be in [0, 1): 1.5"),
    ],
)
def test_bad_holdout_flags_are_one_line_errors(flags, message, tiny_model_dir, tmp_path, capsys):
    args = ["train", "reward", "--data", str(tmp_path / "x.jsonl"), "--model", str(tiny_model_dir)]
    assert cli_main([*args, "--output", str(tmp_path / "o"), *flags]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err


@pytest.mark.parametrize("kind", ["reward", "dpo", "sft", "kto", "rloo"])
def test_every_kind_keeps_out_the_same_prompts(kind, tiny_model_dir, tmp_path):
    from trainers.config import load_config
    from trainers.modeling import load_tokenizer, resolve_model_source
    from trainers.run import prepare_data

    pairs = preference_rows(n_prompts=24, pairs_per_prompt=1)
    rows = {
        "sft": [{"prompt": r["prompt"], "completion": r["chosen"]} for r in pairs],
        "kto": [
            {"prompt": r["prompt"], "completion": r[side], "label": side == "chosen"}
            for r in pairs
            for side in ("chosen", "rejected")
        ],
        "rloo": [{"prompt": r["prompt"]} for r in pairs],
    }.get(kind, pairs)
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    tok = load_tokenizer(resolve_model_source(str(tiny_model_dir)))
    expected_out = sum(held_out(k, 0.4) for k in {prompt_key(r) for r in pairs})
    assert 0 < expected_out < 24
    for only, seed in ((False, 1), (False, 7), (True, 1)):
        over = dict(data=str(data), model=str(tiny_model_dir), output="o", max_length=128, batch_size=4, grad_accum=1)
        if kind == "rloo":
            over.update(max_new_tokens=32, reward_model=str(tiny_model_dir))
        cfg = load_config(kind, None, {**over, "holdout": 0.4, "holdout_only": only, "seed": seed, "eval_split": 0.2})
        prepared = prepare_data(cfg, tok)
        used = prepared.train_prompts + prepared.eval_prompts
        assert used == (expected_out if only else 24 - expected_out)
        assert prepared.kept_out_prompts == 24 - used


def test_a_judge_trained_on_the_held_out_prompts_of_a_store_dataset_says_so(tiny_model_dir, tmp_path, capsys):
    from store.connect import open_store

    rows = preference_rows(n_prompts=12, pairs_per_prompt=1)
    for r in rows:
        for key in ("margin", "record_id", "annotator"):
            r.pop(key)
    db = tmp_path / "rlhf.duckdb"
    store = open_store(db)
    try:
        store.import_file(write_jsonl(tmp_path / "trl.jsonl", rows), "demo", keep_labels="imported")
    finally:
        store.close()
    out = tmp_path / "judge"
    args = ["train", "reward", "--dataset", "demo", "--store", str(db), "--model", str(tiny_model_dir)]
    flags = ["--output", str(out), "--max-steps", "1", "--eval-split", "0", "--holdout", "0.5", "--holdout-only"]
    fast = ["--max-length", "64", "--batch-size", "2", "--grad-accum", "1", "--logging-steps", "1"]
    assert cli_main([*args, *flags, *fast]) == 0
    held = sum(held_out(prompt_key(r), 0.5) for r in rows)
    summary = json.loads((out / "metrics.json").read_text())["summary"]
    assert summary["train_prompts"] == held
    err = capsys.readouterr().err
    assert f"--holdout 0.5 --holdout-only: the {held} held-out prompts, none of the other {12 - held}" in err


def test_eval_answers_exactly_the_prompts_the_judge_trained_on():
    from rlhf_tui.commands.loop import held_out_prompts
    from trainers.generation import PromptItem

    chat = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "why is ice slippery?"}]
    prompts = [f"what is thing {i}?" for i in range(40)] + [chat]
    items = [PromptItem(id=str(i), prompt=p, metadata={}) for i, p in enumerate(prompts)]
    rows = [{"prompt": p, "chosen": "a", "rejected": "b"} for p in prompts]
    judged = [i.prompt for i in held_out_prompts(items, 0.4, "x")]
    assert judged == [r["prompt"] for r in holdout_side(rows, 0.4, True, "x")]
    assert 0 < len(judged) < len(prompts)


def test_eval_holdout_that_keeps_no_prompt_is_one_line_before_any_model_loads(tmp_path, capsys):
    prompts = tmp_path / "p.txt"
    prompts.write_text("only one prompt\n")
    fraction = "0.001"  # this prompt's hash is not among the lowest thousandth
    assert not held_out(prompt_key({"prompt": "only one prompt"}), float(fraction))
    args = ["eval", "--policy", str(tmp_path / "none"), "--reference", str(tmp_path / "none")]
    code = cli_main([*args, "--reward-model", str(tmp_path / "none"), "--prompts", str(prompts), "--holdout", fraction])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err == f"error: --holdout 0.001 keeps none of the 1 prompts of {prompts}"
