"""Policy against reference: both answer every prompt, a reward model judges, a win rate with its interval.

Imported only by `rlhf-tui eval`. One model is in memory at a time (policy, reference, judge).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .generation import GenerationSettings, ProgressFn, PromptItem, sample_answers
from .scoring import score_answers
from .shares import TIE_TOLERANCE, wilson_interval

SIMILAR_LENGTH = 0.2  # two answers are of similar length when their token counts differ by at most 20%


def similar_length(a: int, b: int, tolerance: float = SIMILAR_LENGTH) -> bool:
    """Token counts within `tolerance` of the longer one (two empty answers are similar)."""
    return abs(a - b) <= tolerance * max(a, b)


@dataclass
class EvalResult:
    prompts: int
    wins: int
    ties: int
    losses: int
    low: float
    high: float
    rows: list[dict] = field(repr=False, default_factory=list)
    policy: str = "policy"
    policy_tokens: float | None = None  # mean answer length in the judge's tokens
    reference_tokens: float | None = None
    similar_pairs: int = 0  # prompts whose two answers are of similar length
    similar_win_rate: float | None = None  # the policy's win rate among those (tie = ½)
    similar_low: float = 0.0
    similar_high: float = 1.0

    @property
    def win_rate(self) -> float:
        """Policy wins over all prompts, a tie counting half."""
        return (self.wins + 0.5 * self.ties) / self.prompts if self.prompts else 0.0


def judge(policy_scores: Sequence[float], reference_scores: Sequence[float]) -> list[str]:
    out = []
    for p, r in zip(policy_scores, reference_scores):
        out.append("tie" if abs(p - r) <= TIE_TOLERANCE else ("policy" if p > r else "reference"))
    return out


def _points(verdicts: Sequence[str]) -> float:
    return verdicts.count("policy") + 0.5 * verdicts.count("tie")


def summarise(
    items: Sequence[PromptItem],
    policy_answers: list[str],
    reference_answers: list[str],
    policy_scores: list[float],
    reference_scores: list[float],
    policy_tokens: Sequence[int] | None = None,
    reference_tokens: Sequence[int] | None = None,
    policy: str = "policy",
) -> EvalResult:
    """Win rate and its Wilson interval; with token counts also both mean lengths and the win rate among
    the prompts whose answers are of similar length (a policy that wins by writing more shows it there)."""
    verdicts = judge(policy_scores, reference_scores)
    rows = []
    for k, (item, pa, ra, ps, rs, v) in enumerate(
        zip(items, policy_answers, reference_answers, policy_scores, reference_scores, verdicts)
    ):
        row = {
            "policy": policy,
            "id": item.id,
            "record_id": item.record_id,
            "prompt": item.prompt if isinstance(item.prompt, str) else json.dumps(item.prompt),
            "policy_answer": pa,
            "reference_answer": ra,
            "policy_score": ps,
            "reference_score": rs,
            "winner": v,
        }
        if policy_tokens is not None and reference_tokens is not None:
            row["policy_tokens"], row["reference_tokens"] = policy_tokens[k], reference_tokens[k]
        rows.append(row)
    wins, ties = verdicts.count("policy"), verdicts.count("tie")
    n = len(verdicts)
    low, high = wilson_interval(_points(verdicts), n)
    result = EvalResult(
        prompts=n, wins=wins, ties=ties, losses=n - wins - ties, low=low, high=high, rows=rows, policy=policy
    )
    if policy_tokens is not None and reference_tokens is not None and n:
        result.policy_tokens = sum(policy_tokens) / n
        result.reference_tokens = sum(reference_tokens) / n
        similar = [v for v, a, b in zip(verdicts, policy_tokens, reference_tokens) if similar_length(a, b)]
        result.similar_pairs = len(similar)
        if similar:
            result.similar_win_rate = _points(similar) / len(similar)
            result.similar_low, result.similar_high = wilson_interval(_points(similar), len(similar))
    return result


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


def answer_tokens(tokenizer: Any, answers: Sequence[str]) -> list[int]:
    """Each answer's length in tokens (the judge's tokenizer: one ruler for every policy)."""
    return [len(tokenizer(a, add_special_tokens=False)["input_ids"]) for a in answers]


def evaluate_policies(
    policies: Sequence[str],
    reference: str,
    reward_model: str,
    items: Sequence[PromptItem],
    settings: GenerationSettings,
    max_length: int = 1024,
    load_in_4bit: bool | None = None,
    on_stage: Callable[[str, int], ProgressFn] | None = None,
) -> list[EvalResult]:
    """Every policy and the reference answer every prompt (same settings and seed; the reference once),
    the reward model — best one held out from the policies' training — judges each policy against it.

    `on_stage(name, total)` returns a progress callback for that stage (or the caller passes None)."""
    from .modeling import load_for_inference

    def stage(name: str, total: int) -> ProgressFn | None:
        return on_stage(name, total) if on_stage else None

    reference_answers = _answers(reference, items, settings, load_in_4bit, stage("reference answers", len(items)))
    answers = [_answers(p, items, settings, load_in_4bit, stage(f"{p} answers", len(items))) for p in policies]
    judge_model, judge_tok = load_for_inference(reward_model, "reward", load_in_4bit=load_in_4bit)
    prompts = [i.prompt for i in items]
    pairs = [(p, a) for every in (reference_answers, *answers) for p, a in zip(prompts, every)]
    scores = score_answers(judge_model, judge_tok, pairs, settings.batch_size, max_length, stage("judging", len(pairs)))
    n = len(items)
    reference_scores, reference_tokens = scores[:n], answer_tokens(judge_tok, reference_answers)
    results = []
    for k, (policy, policy_answers) in enumerate(zip(policies, answers), 1):
        results.append(
            summarise(
                items,
                policy_answers,
                reference_answers,
                scores[k * n : (k + 1) * n],
                reference_scores,
                answer_tokens(judge_tok, policy_answers),
                reference_tokens,
                policy,
            )
        )
    return results


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
    """One policy against the reference (see `evaluate_policies`)."""
    return evaluate_policies([policy], reference, reward_model, items, settings, max_length, load_in_4bit, on_stage)[0]


def write_parquet(rows: list[dict], path: str | Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path
