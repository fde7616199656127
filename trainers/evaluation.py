"""Policy against reference: both answer every prompt, a reward model judges, a win rate with its interval.

Imported only by `rlhf-tui eval`. One model is in memory at a time (policy, reference, judge).
"""

from __future__ import annotations

import gc
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .generation import GenerationSettings, ProgressFn, PromptItem, sample_answers
from .scoring import TIE_TOLERANCE, score_answers


def wilson_interval(successes: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default); `successes` may be fractional (ties = ½)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class EvalResult:
    prompts: int
    wins: int
    ties: int
    losses: int
    low: float
    high: float
    rows: list[dict] = field(repr=False, default_factory=list)

    @property
    def win_rate(self) -> float:
        """Policy wins over all prompts, a tie counting half."""
        return (self.wins + 0.5 * self.ties) / self.prompts if self.prompts else 0.0


def judge(policy_scores: Sequence[float], reference_scores: Sequence[float]) -> list[str]:
    out = []
    for p, r in zip(policy_scores, reference_scores):
        out.append("tie" if abs(p - r) <= TIE_TOLERANCE else ("policy" if p > r else "reference"))
    return out


def summarise(
    items: Sequence[PromptItem],
    policy_answers: list[str],
    reference_answers: list[str],
    policy_scores: list[float],
    reference_scores: list[float],
) -> EvalResult:
    verdicts = judge(policy_scores, reference_scores)
    rows = []
    for item, pa, ra, ps, rs, v in zip(
        items, policy_answers, reference_answers, policy_scores, reference_scores, verdicts
    ):
        rows.append(
            {
                "id": item.id,
                "record_id": item.record_id,
                "prompt": item.prompt if isinstance(item.prompt, str) else json.dumps(item.prompt),
                "policy_answer": pa,
                "reference_answer": ra,
                "policy_score": ps,
                "reference_score": rs,
                "winner": v,
            }
        )
    wins, ties = verdicts.count("policy"), verdicts.count("tie")
    n = len(verdicts)
    low, high = wilson_interval(wins + 0.5 * ties, n)
    return EvalResult(prompts=n, wins=wins, ties=ties, losses=n - wins - ties, low=low, high=high, rows=rows)


def _answers(
    model_spec: str,
    items: Sequence[PromptItem],
    settings: GenerationSettings,
    load_in_4bit: bool | None,
    on_progress: ProgressFn | None,
) -> list[str]:
    from .modeling import load_for_inference

    model, tokenizer = load_for_inference(model_spec, "policy", load_in_4bit=load_in_4bit)
    try:
        answers = sample_answers(model, tokenizer, [i.prompt for i in items], 1, settings, on_progress)
    finally:
        del model
        gc.collect()
    return [a[0] for a in answers]


def evaluate(
    policy: str,
    reference: str,
    reward_model: str,
    items: Sequence[PromptItem],
    settings: GenerationSettings,
    max_length: int = 1024,
    load_in_4bit: bool | None = None,
    on_stage: Callable[[str, int], ProgressFn] | None = None,
) -> EvalResult:
    """Both models answer every prompt (same settings and seed), the reward model scores the answers.

    `on_stage(name, total)` returns a progress callback for that stage (or the caller passes None)."""
    from .modeling import load_for_inference

    def stage(name: str, total: int) -> ProgressFn | None:
        return on_stage(name, total) if on_stage else None

    policy_answers = _answers(policy, items, settings, load_in_4bit, stage("policy answers", len(items)))
    reference_answers = _answers(reference, items, settings, load_in_4bit, stage("reference answers", len(items)))
    judge_model, judge_tok = load_for_inference(reward_model, "reward", load_in_4bit=load_in_4bit)
    prompts = [i.prompt for i in items]
    pairs = list(zip(prompts, policy_answers)) + list(zip(prompts, reference_answers))
    scores = score_answers(judge_model, judge_tok, pairs, settings.batch_size, max_length, stage("judging", len(pairs)))
    n = len(items)
    return summarise(items, policy_answers, reference_answers, scores[:n], scores[n:])


def write_parquet(rows: list[dict], path: str | Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path
