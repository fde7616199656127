"""Shares of pairs with their count and 95% Wilson interval: held-out accuracy, agreement, win rates.

One implementation for every such figure the trainers and the loop commands print or store, always
computed from the pairs themselves — correct pairs / pairs — never as a mean of per-batch means
(TRL logs those: a last batch of one pair would weigh as much as a full one). Pure Python, no torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

TIE_TOLERANCE = 1e-6  # two scores closer than this are a tie


def wilson_interval(successes: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default); `successes` may be fractional (ties = ½)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def describe_share(successes: float, n: int, unit: str = "pairs") -> str:
    """'0.587 [0.52, 0.65], 218 pairs': the share, its 95% Wilson interval and its count."""
    if n <= 0:
        return f"— (0 {unit})"
    low, high = wilson_interval(successes, n)
    return f"{successes / n:.3f} [{low:.2f}, {high:.2f}], {n} {unit}"


@dataclass(frozen=True)
class PairShare:
    """How often the chosen answer of a held-out pair scored above the rejected one, over every pair."""

    pairs: int
    correct: int  # chosen scored higher
    ties: int  # the two scores within TIE_TOLERANCE: counted apart, not correct
    mean_margin: float | None  # mean over pairs of chosen score − rejected score

    @property
    def wrong(self) -> int:
        return self.pairs - self.correct - self.ties

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.pairs if self.pairs else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.correct, self.pairs)

    def describe(self) -> str:
        """'0.587 [0.52, 0.65], 218 pairs' (and ', 2 ties' when there are any)."""
        text = describe_share(self.correct, self.pairs)
        return text + (f", {self.ties} {'tie' if self.ties == 1 else 'ties'}" if self.ties else "")

    def to_dict(self) -> dict[str, Any]:
        low, high = self.interval
        return {
            "accuracy": self.accuracy,
            "correct": self.correct,
            "ties": self.ties,
            "wrong": self.wrong,
            "pairs": self.pairs,
            "interval_95": [low, high],
            "mean_margin": self.mean_margin,
        }


@dataclass
class PairScores:
    """Each held-out pair's two scores, in the eval set's order (a reward model's rewards, or DPO's implicit
    rewards β·log π/π_ref)."""

    chosen: list[float] = field(default_factory=list)
    rejected: list[float] = field(default_factory=list)

    def add(self, chosen: Sequence[float], rejected: Sequence[float]) -> None:
        self.chosen.extend(float(c) for c in chosen)
        self.rejected.extend(float(r) for r in rejected)

    def __len__(self) -> int:
        return len(self.chosen)

    def share(self, members: Sequence[int] | None = None) -> PairShare:
        """The share over every pair, or over the pairs at `members` (indices)."""
        indices = range(len(self.chosen)) if members is None else members
        margins = [self.chosen[i] - self.rejected[i] for i in indices]
        ties = sum(abs(m) <= TIE_TOLERANCE for m in margins)
        correct = sum(m > TIE_TOLERANCE for m in margins)
        mean = sum(margins) / len(margins) if margins else None
        return PairShare(pairs=len(margins), correct=correct, ties=ties, mean_margin=mean)


def pair_figures(prefix: str, share: PairShare) -> dict[str, float]:
    """The share as flat logged metrics (`eval_pair_accuracy`, ...): what TensorBoard, the curves, the
    plain log lines and --keep-best accuracy read at each evaluation."""
    if not share.pairs:
        return {}
    low, high = share.interval
    return {
        f"{prefix}_pair_accuracy": float(share.accuracy or 0.0),
        f"{prefix}_pair_accuracy_low": low,
        f"{prefix}_pair_accuracy_high": high,
        f"{prefix}_pair_count": float(share.pairs),
        f"{prefix}_pair_ties": float(share.ties),
        f"{prefix}_pair_margin": float(share.mean_margin or 0.0),
    }
