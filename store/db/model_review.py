"""The reward model beside the people: its answers on a dataset's records, read from
candidate_scores, and the review order "model-disagrees" (the records where the model and the
annotators part ways first). The statistics are store.stats.model_rater's."""

from __future__ import annotations

from typing import Any

import duckdb

from store.db import reviews as review_queries
from store.db.uncertainty import queue_scorers
from store.stats.agreement import Submission
from store.stats.model_rater import ModelAgreement, ModelAnswer, model_agreement, model_answers
from store.types import ReviewItem


def dataset_scorers(con: duckdb.DuckDBPyConnection, dataset_id: int) -> list[str]:
    """The scorers that scored the dataset's records, the one that saved a score last first."""
    rows = con.execute(
        "SELECT s.scorer FROM candidate_scores s JOIN records r ON r.id = s.record_id WHERE r.dataset_id = ? "
        "GROUP BY s.scorer ORDER BY max(s.scored_at) DESC, s.scorer",
        [dataset_id],
    ).fetchall()
    return [str(r[0]) for r in rows]


def dataset_model_answers(con: duckdb.DuckDBPyConnection, dataset_id: int, scorer: str) -> dict[int, ModelAnswer]:
    """The model's answer on each of the dataset's records it scored on every candidate."""
    scores = con.execute(
        "SELECT s.record_id, s.idx, max(s.score) FROM candidate_scores s JOIN records r ON r.id = s.record_id "
        "WHERE r.dataset_id = ? AND s.scorer = ? GROUP BY ALL",
        [dataset_id, scorer],
    ).fetchall()
    sizes = dict(con.execute("SELECT id, n_candidates FROM records WHERE dataset_id = ?", [dataset_id]).fetchall())
    return model_answers(((int(r), int(i), float(s)) for r, i, s in scores), sizes)


def _submissions(con: duckdb.DuckDBPyConnection, dataset_id: int) -> list[Submission]:
    rows = con.execute(
        "SELECT record_id, annotator, ranks, both_bad FROM annotations WHERE dataset_id = ? AND status = 'submitted'",
        [dataset_id],
    ).fetchall()
    return [(int(r), str(a), tuple(k), bool(b)) for r, a, k, b in rows]


def model_disagreement(
    con: duckdb.DuckDBPyConnection, dataset_id: int, scorer: str, listed: int | None = None
) -> ModelAgreement:
    return model_agreement(
        scorer, _submissions(con, dataset_id), dataset_model_answers(con, dataset_id, scorer), listed=listed
    )


def model_disagrees_queue(
    con: duckdb.DuckDBPyConnection, dataset_id: int, settings: dict[str, Any], offset: int, limit: int
) -> list[ReviewItem]:
    """The review queue with the model's disagreements first: blind spots (everyone agrees, the model
    does not), then second looks (a confident model and one dissenting annotator; these may have a
    single answer), then the other records with two or more answers, most disputed first. The scorer
    is the one that orders the dataset's queue (its `scorers` setting, else the latest)."""
    items = review_queries.review_queue(con, dataset_id, "disputed", None, 0, 1 << 62, min_answers=1)
    scorers = queue_scorers(con, dataset_id, settings)
    first: list[int] = []
    if scorers:
        report = model_disagreement(con, dataset_id, scorers[0])
        for d in (*report.blind_spots, *report.second_looks):
            if d.record_id not in first:
                first.append(d.record_id)
    by_id = {item.record_id: item for item in items}
    flagged = set(first)
    ordered = [by_id[r] for r in first if r in by_id] + [
        item for item in items if item.answers >= 2 and item.record_id not in flagged
    ]
    return ordered[offset : offset + limit]
