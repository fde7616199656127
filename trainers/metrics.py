"""metrics.json and the PNG of loss and accuracy curves, from the trainer's log history."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .kinds import kind_of


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def summarise(kind: str, log_history: list[dict], final_eval: dict | None, extra: dict) -> dict[str, Any]:
    train = [{k: _finite(v) for k, v in e.items()} for e in log_history if "loss" in e]
    evals = [{k: _finite(v) for k, v in e.items()} for e in log_history if "eval_loss" in e]
    entry = kind_of(kind)
    acc_key, eval_acc_key, eval_margin_key = entry.accuracy_key, entry.eval_accuracy_key, entry.eval_margin_key
    summary: dict[str, Any] = {"kind": kind, **extra}
    if train:
        summary["final_train_loss"] = train[-1].get("loss")
        summary["final_train_accuracy"] = train[-1].get(acc_key)
    if final_eval:
        summary["eval_loss"] = _finite(final_eval.get("eval_loss"))
        summary["eval_accuracy"] = _finite(final_eval.get(eval_acc_key))
        summary["eval_mean_margin"] = _finite(final_eval.get(eval_margin_key))
    return {"summary": summary, "train": train, "eval": evals}


def write_metrics(path: Path, metrics: dict[str, Any]) -> None:
    path.write_text(json.dumps(metrics, indent=2))


def plot_curves(path: Path, kind: str, metrics: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entry = kind_of(kind)
    acc_key, eval_acc_key = entry.accuracy_key, entry.eval_accuracy_key
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    train, evals = metrics["train"], metrics["eval"]
    for rows, key, label, style in ((train, "loss", "train", "-"), (evals, "eval_loss", "eval", "o--")):
        points = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
        if points:
            ax_loss.plot(*zip(*points), style, label=label)
    for rows, key, label, style in ((train, acc_key, "train", "-"), (evals, eval_acc_key, "eval", "o--")):
        points = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
        if points:
            ax_acc.plot(*zip(*points), style, label=label)
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
