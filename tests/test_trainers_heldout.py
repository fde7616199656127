"""Issue 23: held-out accuracy is a share of the held-out pairs — correct pairs / pairs, ties apart, the margin
a mean over pairs — with its count and 95% Wilson interval, in the table, metrics.json, the plain log and
`score`; TRL's mean of per-batch means is kept only under a name that says so. Tiny model, a step or two."""

from __future__ import annotations

import json

import pytest
from trainers_fixtures import *  # noqa: F403
from trainers_fixtures import preference_rows, write_jsonl

from trainers.shares import PairScores, describe_share, wilson_interval

# ---- the arithmetic -------------------------------------------------------------------------------


def test_a_share_reads_as_value_interval_and_count():
    assert describe_share(128, 218) == "0.587 [0.52, 0.65], 218 pairs"
    assert describe_share(0, 0) == "— (0 pairs)"
    scores = PairScores()
    scores.add([1.0, 2.0, 0.5, 3.0], [0.0, 2.0, 1.0, 1.0])
    share = scores.share()
    assert (share.correct, share.ties, share.wrong, share.pairs) == (2, 1, 1, 4)
    assert share.accuracy == 0.5  # a tie is not a correct pair: it is counted apart
    assert share.mean_margin == pytest.approx((1.0 + 0.0 - 0.5 + 2.0) / 4)
    assert share.describe() == describe_share(2, 4) + ", 1 tie"
    assert share.to_dict()["interval_95"] == list(wilson_interval(2, 4))


def test_accuracy_over_uneven_batches_is_the_share_of_pairs_not_the_mean_of_batch_means():
    # 73 pairs in batches of 8: nine full batches, all correct, and a last batch of one wrong pair
    chosen = [1.0] * 72 + [0.0]
    rejected = [0.0] * 72 + [1.0]
    batches = [range(k, min(k + 8, 73)) for k in range(0, 73, 8)]
    trl_mean = sum(sum(chosen[i] > rejected[i] for i in b) / len(b) for b in batches) / len(batches)
    assert trl_mean == pytest.approx(0.9)  # the single pair weighs a tenth
    scores = PairScores()
    scores.add(chosen, rejected)
    assert scores.share().accuracy == 72 / 73 and scores.share().correct == 72


def test_length_buckets_are_shares_of_their_own_pairs():
    from trainers.metrics import by_length

    scores = PairScores()
    # answer lengths 1..7: the short third (1, 2) right, the middle (3, 4) one right, the long (5, 6, 7) all wrong
    scores.add([1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1, 1])
    figures = by_length(scores, [1, 2, 3, 4, 5, 6, 7])
    assert [figures[f"eval_pairs_{b}"] for b in ("short", "medium", "long")] == [2, 2, 3]
    assert [figures[f"eval_accuracy_{b}"] for b in ("short", "medium", "long")] == [1.0, 0.5, 0.0]
    assert figures["eval_answer_tokens_long"] == [5, 7]
    assert figures["eval_held_out_medium"]["correct"] == 1 and figures["eval_held_out_long"]["pairs"] == 3


def test_the_summary_table_shows_each_share_with_its_interval_and_count():
    from rlhf_tui.commands.train import summary_rows
    from trainers.metrics import summarise

    scores = PairScores()
    scores.add([1.0] * 5 + [0.0] * 2, [0.0] * 5 + [1.0] * 2)
    log = [
        {"loss": 0.7, "accuracy": 0.5, "margin": 0.1, "step": 1},
        {"eval_loss": 0.6, "eval_accuracy": 0.8, "step": 1},
    ]
    final = {"eval_loss": 0.6, "eval_accuracy": 0.8125, "eval_margin": 0.4}  # TRL's mean of two batch means
    metrics = summarise("reward", log, final, {"eval_pairs": 7}, scores, [5, 6, 7, 8, 9, 10, 11])
    summary = metrics["summary"]
    assert summary["eval_accuracy"] == 5 / 7 and summary["eval_held_out"]["pairs"] == 7
    assert summary["eval_trl_batch_mean_accuracy"] == 0.8125  # kept, under a name that says what it is
    assert summary["final_train_trl_batch_mean_accuracy"] == 0.5 and "final_train_accuracy" not in summary
    assert metrics["train"][0]["trl_batch_mean_accuracy"] == 0.5 and "accuracy" not in metrics["train"][0]
    assert metrics["eval"][0]["eval_trl_batch_mean_accuracy"] == 0.8 and "eval_accuracy" not in metrics["eval"][0]
    rows = dict(summary_rows("reward", summary))
    assert rows["eval pairwise accuracy"] == describe_share(5, 7)
    assert rows["  short answers (5-6 tokens)"] == describe_share(2, 2)
    assert rows["eval mean margin (over pairs)"] == f"{3 / 7:.4f}"


def test_score_reports_agreement_with_its_interval_count_and_ties():
    from trainers.scoring import agreement

    rankings = [(1, "ann", (1, 2, 3), False), (2, "ann", (1, 1, 2), False)]
    scores = {(1, 0): 3.0, (1, 1): 1.0, (1, 2): 2.0, (2, 0): 5.0, (2, 1): 0.0, (2, 2): 5.0}
    result = agreement(rankings, scores)
    assert result.ties == 1
    assert result.describe() == describe_share(2.5, 5) + ", 1 tied in score (½ each)"


def test_the_plain_eval_line_shows_the_held_out_share_and_names_the_final_evaluation():
    from types import SimpleNamespace

    from trainers.callbacks import PlainLogCallback
    from trainers.shares import pair_figures

    scores = PairScores()
    scores.add([1.0] * 5 + [0.0] * 2, [0.0] * 5 + [1.0] * 2)
    logs = {"eval_loss": 0.6, "eval_accuracy": 0.8125, **pair_figures("eval", scores.share())}
    lines: list[str] = []
    callback = PlainLogCallback(4, "accuracy", "margin", write=lines.append)
    state = SimpleNamespace(is_world_process_zero=True, global_step=4, max_steps=4)
    callback.on_train_begin(None, state, None)
    callback.on_log(None, state, None, logs=dict(logs))
    callback.on_train_end(None, state, None)
    callback.on_log(None, state, None, logs=dict(logs))  # after training: the adapter saved, maybe an earlier step
    figures = f"loss 0.6000  accuracy {describe_share(5, 7)}  margin {3 / 7:.3f}"
    assert lines == [f"eval at step 4  {figures}", f"eval of the saved adapter  {figures}"]


# ---- through a real run: 7 held-out pairs in batches of 4 ------------------------------------------


def _seven_held_out(tmp_path):
    # 20 prompts of one pair each; --eval-split 0.35 holds out 7 prompts: batches of 4 and 3
    return write_jsonl(tmp_path / "p.jsonl", preference_rows(n_prompts=20, pairs_per_prompt=1))


def _run(kind, model_dir, data, out, **over):
    from trainers.config import load_config
    from trainers.run import run_training

    options = dict(model=str(model_dir), data=str(data), output=str(out), max_length=64, batch_size=4)
    options.update(grad_accum=1, logging_steps=1, save_steps=100, max_steps=1, eval_split=0.35, **over)
    return run_training(load_config(kind, None, options), progress=False, say=lambda line: None)


def test_reward_eval_accuracy_is_the_share_of_the_held_out_pairs_scored_again(tiny_model_dir, tmp_path):
    from trainers.config import DataArgs
    from trainers.data import load_preference_rows, split_by_prompt
    from trainers.scoring import score_answers

    data = _seven_held_out(tmp_path)
    result = _run("reward", tiny_model_dir, data, tmp_path / "rm", learning_rate=0.05)
    summary = json.loads((tmp_path / "rm" / "metrics.json").read_text())["summary"]
    held_out = summary["eval_held_out"]
    assert held_out["pairs"] == summary["eval_pairs"] == 7
    assert summary["eval_accuracy"] == held_out["correct"] / 7
    # the same pairs, scored one by one by the trained model, outside the trainer
    assert result.trainer.args.per_device_eval_batch_size == 4
    _, eval_rows = split_by_prompt(load_preference_rows(DataArgs(data=str(data))), 0.35, 42)
    model, tokenizer = result.trainer.model, result.trainer.processing_class
    model.eval()
    chosen = score_answers(model, tokenizer, [(r["prompt"], r["chosen"]) for r in eval_rows], batch_size=1)
    rejected = score_answers(model, tokenizer, [(r["prompt"], r["rejected"]) for r in eval_rows], batch_size=1)
    margins = [c - r for c, r in zip(chosen, rejected)]
    assert all(abs(m) > 1e-4 for m in margins)  # no pair so close that the two passes could disagree
    assert held_out["correct"] == sum(m > 0 for m in margins)
    assert summary["eval_mean_margin"] == pytest.approx(sum(margins) / 7, abs=1e-4)
    low, high = wilson_interval(held_out["correct"], 7)
    assert held_out["interval_95"] == [pytest.approx(low), pytest.approx(high)]


def test_dpo_reward_accuracy_is_the_share_of_pairs_that_trl_reports_for_one_batch(tiny_model_dir, tmp_path):
    data = _seven_held_out(tmp_path)
    result = _run("dpo", tiny_model_dir, data, tmp_path / "dpo", learning_rate=0.05, lora_dropout=0.0)
    summary = result.metrics["summary"]
    held_out = summary["eval_held_out"]
    assert held_out["pairs"] == 7 and summary["eval_accuracy"] == held_out["correct"] / 7
    # in one batch of all 7 pairs TRL's per-batch mean is the share itself: it must agree with ours (4 + 3)
    trainer = result.trainer
    trainer.args.per_device_eval_batch_size = 7
    one_batch = trainer.evaluate()
    assert one_batch["eval_rewards/accuracies"] == pytest.approx(summary["eval_accuracy"])
    assert one_batch["eval_rewards/margins"] == pytest.approx(summary["eval_mean_margin"], abs=1e-4)
    assert one_batch["eval_pair_accuracy"] == pytest.approx(summary["eval_accuracy"])
