"""A reward model as one more rater: how each annotator agrees with it, and the records where
they part ways. Pure Python, like store.stats.agreement.

The model's answer on a record is its candidates ordered by score (best first) and its margin,
the score of the best minus that of the second. Agreement with an annotator is the fraction of
the annotator's strictly ordered candidate pairs that the model orders the same way (for a pair
task: the same label; ties and "both bad" are not compared). Two lists of records, by record id:

- blind spots: two or more annotators all chose the same best answer, and the model chose
  another (something to train on);
- second looks: the model is confident (P(best beats second) = σ(margin) at least `confidence`)
  and exactly one annotator chose another best answer than the model, everyone else agreeing with
  it (a label to look at again).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from store.stats.agreement import ReferenceAgreement, Submission, pairwise_accuracy

DEFAULT_CONFIDENCE = 0.9
MAX_LISTED = 50  # records per list in a report


@dataclass(frozen=True)
class ModelAnswer:
    """The model's ranking of a record's candidates (dense ranks, 1 = best) and its margin."""

    ranks: tuple[int, ...]
    margin: float  # best score minus the second best; 0 when the two tie

    @property
    def best(self) -> int | None:
        """The one best candidate, or None when two share the top score."""
        tops = [i for i, r in enumerate(self.ranks) if r == 1]
        return tops[0] if len(tops) == 1 else None

    @property
    def confidence(self) -> float:
        """σ(margin): how sure the model is that its best beats its second (Bradley-Terry)."""
        return 1 / (1 + math.exp(-min(self.margin, 700.0)))


@dataclass(frozen=True)
class ModelDisagreement:
    record_id: int
    model_best: int  # canonical index of the model's best candidate
    margin: float
    annotators_best: int  # the annotators' agreed best (blind spot) or the dissenter's best (second look)
    annotator: str = ""  # the dissenting annotator (second looks)


@dataclass(frozen=True)
class ModelAgreement:
    scorer: str
    records_scored: int  # records with a submitted answer and scores of all their candidates
    by_annotator: tuple[ReferenceAgreement, ...]
    blind_spots: tuple[ModelDisagreement, ...]  # most confident model first
    second_looks: tuple[ModelDisagreement, ...]  # most confident model first
    confidence: float


def model_answer(scores: Sequence[float]) -> ModelAnswer:
    """Dense ranks by score, highest first: (0.2, 1.5, 1.5) -> (2, 1, 1), margin 0."""
    distinct = sorted(set(scores), reverse=True)
    ranks = tuple(distinct.index(s) + 1 for s in scores)
    ordered = sorted(scores, reverse=True)
    return ModelAnswer(ranks, ordered[0] - ordered[1] if len(ordered) > 1 else 0.0)


def model_answers(scores: Iterable[tuple[int, int, float]], n_candidates: Mapping[int, int]) -> dict[int, ModelAnswer]:
    """Per record, the model's answer from (record_id, candidate index, score) rows of one scorer;
    records not scored on every candidate are left out."""
    by_record: dict[int, dict[int, float]] = defaultdict(dict)
    for record_id, idx, score in scores:
        by_record[record_id][idx] = score
    out = {}
    for record_id, scored in by_record.items():
        n = n_candidates.get(record_id, 0)
        if n >= 2 and all(i in scored for i in range(n)):
            out[record_id] = model_answer([scored[i] for i in range(n)])
    return out


def _most_confident(d: ModelDisagreement) -> tuple[float, int]:
    return (-d.margin, d.record_id)


def _best(ranks: Sequence[int], both_bad: bool) -> int | None:
    tops = [i for i, r in enumerate(ranks) if r == 1]
    return tops[0] if len(tops) == 1 and not both_bad else None


def model_agreement(
    scorer: str,
    rankings: Iterable[Submission],
    answers: Mapping[int, ModelAnswer],
    confidence: float = DEFAULT_CONFIDENCE,
    listed: int | None = MAX_LISTED,
) -> ModelAgreement:
    """The model as a rater against every submitted answer (`store.submitted_rankings` rows)."""
    per_record: dict[int, list[tuple[str, tuple[int, ...], bool]]] = defaultdict(list)
    for record_id, annotator, ranks, both_bad in rankings:
        if record_id in answers:
            per_record[record_id].append((annotator, tuple(ranks), both_bad))
    agreed: dict[str, list[float]] = defaultdict(list)
    blind, second = [], []
    for record_id, subs in per_record.items():
        model = answers[record_id]
        for annotator, ranks, both_bad in subs:
            if both_bad or len(ranks) != len(model.ranks):
                continue
            score = pairwise_accuracy(model.ranks, ranks)
            if score is not None:
                agreed[annotator].append(score)
        best = model.best
        if best is None:
            continue
        bests = [(annotator, _best(ranks, both_bad)) for annotator, ranks, both_bad in subs]
        chosen = {b for _, b in bests}
        agreed_best = next(iter(chosen))
        if len(subs) >= 2 and len(chosen) == 1 and agreed_best is not None and agreed_best != best:
            blind.append(ModelDisagreement(record_id, best, model.margin, agreed_best))
        # Exactly one answer whose best is not the model's (so everyone else chose the model's best).
        dissent = [(a, b) for a, b in bests if b != best]
        if model.confidence >= confidence and len(dissent) == 1:
            who, their_best = dissent[0]
            if their_best is not None:
                second.append(ModelDisagreement(record_id, best, model.margin, their_best, who))
    return ModelAgreement(
        scorer,
        len(per_record),
        tuple(ReferenceAgreement(a, len(v), sum(v) / len(v) if v else None) for a, v in sorted(agreed.items())),
        tuple(sorted(blind, key=_most_confident)[:listed]),
        tuple(sorted(second, key=_most_confident)[:listed]),
        confidence,
    )
