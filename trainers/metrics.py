"""metrics.json and the PNG of loss and accuracy curves, from the trainer's log history and the held-out pairs.

Held-out accuracy (reward models, DPO) is a share of pairs, from each pair's two scores: correct pairs /
pairs, ties counted apart, the margin the mean over pairs, each with its count and 95% Wilson interval,
overall and for the shortest, middle and longest third of the pairs. TRL's own logged accuracies are
means of per-batch means; metrics.json keeps them under names that say so (`..._trl_batch_mean_...`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .kinds import kind_of
from .shares import PairScores

LENGTH_BUCKETS = ("short", "medium", "long")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def trl_mean_key(prefix: str, logged_key: str) -> str:
    """The summary's name for a figure TRL logged as a mean of per-batch means, e.g. eval_trl_batch_mean_accuracy."""
    return f"{prefix}trl_batch_mean_{logged_key.replace('/', '_')}"


def stored_name(logged_key: str) -> str:
    """A logged key as metrics.json names it: TRL's accuracies (means of per-batch means) say so —
    'accuracy' becomes 'trl_batch_mean_accuracy', 'eval_rewards/accuracies' 'eval_trl_batch_mean_rewards_accuracies';
    the held-out shares (`eval_pair_accuracy`, ...) and every other figure keep their names."""
    if "accurac" not in logged_key or "pair_accuracy" in logged_key:
        return logged_key
    if logged_key.startswith("eval_"):
        return trl_mean_key("eval_", logged_key.removeprefix("eval_"))
    return trl_mean_key("", logged_key)


def _stored_row(row: dict[str, Any]) -> dict[str, Any]:
    return {stored_name(k): _finite(v) for k, v in row.items()}


def by_length(held_out: PairScores, answer_tokens: Sequence[float]) -> dict[str, Any]:
    """Held-out accuracy for the shortest, middle and longest third of the pairs (by answer tokens).

    A model that learned "longer is better" shows it here: accuracy rises with the bucket."""
    n = len(held_out)
    if n < 3 or len(answer_tokens) != n:
        return {}
    order = sorted(range(n), key=lambda i: answer_tokens[i])
    out: dict[str, Any] = {}
    for b, name in enumerate(LENGTH_BUCKETS):
        members = order[b * n // 3 : (b + 1) * n // 3]
        share = held_out.share(members)
        out[f"eval_accuracy_{name}"] = share.accuracy
        out[f"eval_pairs_{name}"] = share.pairs
        out[f"eval_answer_tokens_{name}"] = [round(answer_tokens[members[0]]), round(answer_tokens[members[-1]])]
        out[f"eval_held_out_{name}"] = share.to_dict()
    return out


def summarise(
    kind: str,
    log_history: list[dict],
    final_eval: dict | None,
    extra: dict,
    held_out: PairScores | None = None,
    answer_tokens: Sequence[float] | None = None,
) -> dict[str, Any]:
    """The run's summary and its train and eval logs. `held_out`: the final evaluation's pairs (kinds that
    score pairs), in the order of `answer_tokens` (each pair's mean answer length) for the length buckets."""
    train = [_stored_row(e) for e in log_history if "loss" in e]
    evals = [_stored_row(e) for e in log_history if "eval_loss" in e]
    entry = kind_of(kind)
    summary: dict[str, Any] = {"kind": kind, **extra}
    if train:
        summary["final_train_loss"] = train[-1].get("loss")
        summary[trl_mean_key("final_train_", entry.accuracy_key)] = train[-1].get(stored_name(entry.accuracy_key))
    if final_eval:
        summary["eval_loss"] = _finite(final_eval.get("eval_loss"))
        for key in (entry.accuracy_key, entry.margin_key):
            summary[trl_mean_key("eval_", key)] = _finite(final_eval.get("eval_" + key))
    if final_eval and held_out is not None and len(held_out):
        share = held_out.share()
        summary["eval_accuracy"] = share.accuracy
        summary["eval_mean_margin"] = _finite(share.mean_margin)
        summary["eval_held_out"] = share.to_dict()
        summary.update(by_length(held_out, answer_tokens or []))
    return {"summary": summary, "train": train, "eval": evals}


def write_metrics(path: Path, metrics: dict[str, Any]) -> None:
    path.write_text(json.dumps(metrics, indent=2))


def plot_curves(path: Path, kind: str, metrics: dict[str, Any]) -> None:
    """Loss, and the kind's accuracy figure: held-out points as shares of pairs (with their interval) where
    the kind scores pairs; TRL's per-batch means are labelled as such."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entry = kind_of(kind)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    train, evals = metrics["train"], metrics["eval"]
    # the final evaluation (of the adapter saved: the best checkpoint with --keep-best) repeats the last step
    evals = [r for i, r in enumerate(evals) if i == 0 or r.get("step") != evals[i - 1].get("step")]
    for rows, key, label, style in ((train, "loss", "train", "-"), (evals, "eval_loss", "eval", "o--")):
        points = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
        if points:
            ax_loss.plot(*zip(*points), style, label=label)
    key, eval_key = stored_name(entry.accuracy_key), stored_name(entry.eval_accuracy_key)
    points = [(r["step"], r[key]) for r in train if r.get(key) is not None]
    if points:
        ax_acc.plot(*zip(*points), "-", label="train (TRL per-batch mean)")
    exact = [r for r in evals if r.get("eval_pair_accuracy") is not None]
    if entry.pair_scores and exact:
        steps = [r["step"] for r in exact]
        values = [r["eval_pair_accuracy"] for r in exact]
        # max(0, …): at a share of 0 or 1 the interval's end equals it up to rounding
        below = [max(0.0, v - r["eval_pair_accuracy_low"]) for v, r in zip(values, exact)]
        above = [max(0.0, r["eval_pair_accuracy_high"] - v) for v, r in zip(values, exact)]
        pairs = int(exact[-1]["eval_pair_count"])
        ax_acc.errorbar(
            steps, values, yerr=[below, above], fmt="o--", capsize=3, label=f"held out ({pairs} pairs, 95%)"
        )
    else:
        points = [(r["step"], r[eval_key]) for r in evals if r.get(eval_key) is not None]
        if points:
            ax_acc.plot(*zip(*points), "o--", label="eval (TRL per-batch mean)")
    ax_loss.set(title="loss", xlabel="step")
    ax_acc.set(title=entry.accuracy_label, xlabel="step")
    if "accuracy" in entry.accuracy_label:
        ax_acc.set_ylim(0, 1.05)
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.suptitle(f"rlhf-tui train {kind}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
