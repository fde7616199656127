"""One reward model's ranking of a record's candidates as a line of text, marked as the model's:
shown to the reviewer beside the annotators' answers, and to an annotator after they submit where
the dataset allows it (`model_after_submit`). Scorer names are free text: neutralised."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from rich.text import Text

from rlhf_tui.terminal_text import neutralise


def scores_by_scorer(scores: Sequence[tuple[str, int, float]]) -> dict[str, dict[int, float]]:
    """scorer → candidate index → score, in the order the store gives them (the latest scorer first)."""
    out: dict[str, dict[int, float]] = {}
    for scorer, idx, score in scores:
        out.setdefault(scorer, {})[idx] = score
    return out


def model_order(scored: Mapping[int, float], count: int) -> tuple[list[int], float] | None:
    """The candidates best first and the margin of the best over the second, or None unless all are scored."""
    if count < 2 or not all(i in scored for i in range(count)):
        return None
    order = sorted(range(count), key=lambda i: -scored[i])
    return order, scored[order[0]] - scored[order[1]]


def ranking_line(scorer: str, order: Sequence[int], margin: float, labels: Sequence[str], what: str) -> Text:
    """'Reward model rm (WHAT): B ≻ A · margin 1.20 (77% sure)', `labels` by canonical index."""
    sure = 1 / (1 + math.exp(-min(margin, 700.0)))
    text = Text(end="")
    text.append("Reward model ", style="bold magenta")
    text.append(neutralise(scorer), style="magenta")
    text.append(f" ({what}): ", style="magenta")
    text.append(" ≻ ".join(labels[i] for i in order), style="bold")
    text.append(f" · margin {margin:.2f} ({sure:.0%} sure)")
    return text
