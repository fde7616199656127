"""The team lead's reads and writes: the review queue, every answer of a record, reviews
(adjudication) with their history, who holds which record now, and each annotator's pace.
Each function takes the connection and the dataset's id; the store calls them under its lock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import duckdb

from store.db.connection import first_row
from store.errors import InvalidInputError
from store.names import REVIEW_ORDERS
from store.types import AnnotatorActivity, LeaseInfo, Review, ReviewInput, ReviewItem

_REVIEW_COLUMNS = (
    "id, record_id, reviewer, ranks, both_bad, accepted_from, note, gold, created_at, updated_at, revision"
)


def _review(row: tuple[Any, ...]) -> Review:
    rid, record_id, reviewer, ranks, both_bad, accepted, note, gold, created, updated, revision = row
    return Review(rid, record_id, reviewer, tuple(ranks), both_bad, accepted, note, gold, created, updated, revision)


def review_queue(
    con: duckdb.DuckDBPyConnection,
    dataset_id: int,
    order: str,
    annotator: str | None,
    offset: int,
    limit: int,
    min_answers: int = 2,
) -> list[ReviewItem]:
    """Records with two (`min_answers`) or more submitted answers: most disputed first (most distinct
    answers, then the largest spread of ranks), or only those `annotator` answered, or only commented
    ones. "model-disagrees" is ordered by the store (store.db.model_review); here it reads as disputed."""
    if order == "model-disagrees":
        order = "disputed"
    if order not in REVIEW_ORDERS:
        raise InvalidInputError(f"review order must be one of {', '.join(REVIEW_ORDERS)}, not {order!r}")
    rows = con.execute(
        """
        WITH subs AS (
            SELECT record_id, annotator, ranks, both_bad, comment
            FROM annotations WHERE dataset_id = $d AND status = 'submitted'
        ),
        per_record AS (
            SELECT record_id, count(*) AS answers, count(DISTINCT (ranks, both_bad)) AS distinct_answers,
                   count(*) FILTER (WHERE comment <> '') AS commented,
                   bool_or(annotator = $who) AS by_who
            FROM subs GROUP BY record_id HAVING count(*) >= $min_answers
        ),
        spread AS (
            SELECT record_id, sum(v) AS spread FROM (
                SELECT record_id, idx, var_pop(rank) AS v FROM (
                    SELECT s.record_id, unnest(s.ranks) AS rank, generate_subscripts(s.ranks, 1) AS idx
                    FROM subs s SEMI JOIN per_record p ON p.record_id = s.record_id
                ) GROUP BY record_id, idx
            ) GROUP BY record_id
        )
        SELECT p.record_id, r.external_id, p.answers, p.distinct_answers, coalesce(s.spread, 0), p.commented,
               EXISTS (SELECT 1 FROM reviews v WHERE v.record_id = p.record_id) AS reviewed
        FROM per_record p
        JOIN records r ON r.id = p.record_id
        LEFT JOIN spread s ON s.record_id = p.record_id
        WHERE ($order <> 'annotator' OR p.by_who) AND ($order <> 'commented' OR p.commented > 0)
        ORDER BY CASE WHEN $order = 'disputed' THEN -p.distinct_answers ELSE 0 END,
                 CASE WHEN $order = 'disputed' THEN -coalesce(s.spread, 0) ELSE 0 END,
                 p.record_id
        LIMIT $limit OFFSET $offset
        """,
        {
            "d": dataset_id,
            "who": annotator,
            "order": order,
            "limit": limit,
            "offset": offset,
            "min_answers": min_answers,
        },
    ).fetchall()
    return [ReviewItem(int(a), str(b), int(c), int(d), float(e), int(f), bool(g)) for a, b, c, d, e, f, g in rows]


def get_review(con: duckdb.DuckDBPyConnection, record_id: int) -> Review | None:
    row = first_row(con.execute(f"SELECT {_REVIEW_COLUMNS} FROM reviews WHERE record_id = ?", [record_id]))
    return _review(row) if row else None


def review_history(con: duckdb.DuckDBPyConnection, record_id: int) -> list[Review]:
    """Earlier revisions of a record's review, oldest first."""
    columns = _REVIEW_COLUMNS.replace("id, record_id", "review_id, record_id", 1)
    rows = con.execute(
        f"SELECT {columns} FROM review_history WHERE record_id = ? ORDER BY revision", [record_id]
    ).fetchall()
    return [_review(r) for r in rows]


def save_review(con: duckdb.DuckDBPyConnection, dataset_id: int, review: ReviewInput, now: datetime) -> Review:
    """Create or amend a record's review inside the caller's transaction; the old one goes to history."""
    existing = first_row(con.execute("SELECT id, revision FROM reviews WHERE record_id = ?", [review.record_id]))
    values = [review.reviewer, list(review.ranks), review.both_bad, review.accepted_from, review.note, review.gold]
    if existing:
        review_id, revision = existing
        con.execute(
            f"INSERT INTO review_history SELECT {_REVIEW_COLUMNS.replace('id, record_id', 'id, record_id, dataset_id', 1)}, ? "
            "FROM reviews WHERE id = ?",
            [now, review_id],
        ).fetchall()
        con.execute(
            "UPDATE reviews SET reviewer = ?, ranks = ?, both_bad = ?, accepted_from = ?, note = ?, gold = ?, "
            "updated_at = ?, revision = ? WHERE id = ?",
            [*values, now, revision + 1, review_id],
        ).fetchall()
    else:
        con.execute(
            "INSERT INTO reviews (record_id, dataset_id, reviewer, ranks, both_bad, accepted_from, note, gold, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [review.record_id, dataset_id, *values, now, now],
        ).fetchall()
    saved = get_review(con, review.record_id)
    assert saved is not None
    return saved


def reviews_of(con: duckdb.DuckDBPyConnection, dataset_id: int) -> list[tuple[int, tuple[int, ...], bool, bool]]:
    """(record_id, ranks, both_bad, gold) of every reviewed record of the dataset."""
    rows = con.execute(
        "SELECT record_id, ranks, both_bad, gold FROM reviews WHERE dataset_id = ? ORDER BY record_id", [dataset_id]
    ).fetchall()
    return [(int(r), tuple(k), bool(b), bool(g)) for r, k, b, g in rows]


def active_leases(
    con: duckdb.DuckDBPyConnection, dataset_id: int, now: datetime, lease_seconds: int
) -> list[LeaseInfo]:
    """Live leases on records their holder has not answered, oldest first (then by holder and record: the
    leases of one `next_records` call share their time)."""
    rows = con.execute(
        """
        SELECT l.record_id, r.external_id, l.annotator, min(l.expires_at), max(l.expires_at)
        FROM leases l JOIN records r ON r.id = l.record_id
        WHERE r.dataset_id = $d
          AND NOT EXISTS (SELECT 1 FROM annotations a WHERE a.record_id = l.record_id AND a.annotator = l.annotator
                          AND a.status IN ('submitted', 'discarded'))
        GROUP BY ALL HAVING max(l.expires_at) > $now
        ORDER BY min(l.expires_at), l.annotator, l.record_id
        """,
        {"d": dataset_id, "now": now},
    ).fetchall()
    lease = timedelta(seconds=lease_seconds)
    return [LeaseInfo(int(rid), str(ext), str(who), first - lease, last) for rid, ext, who, first, last in rows]


def team_activity(
    con: duckdb.DuckDBPyConnection, dataset_id: int, today: datetime, leases: list[LeaseInfo]
) -> list[AnnotatorActivity]:
    """Each annotator's totals, today's submissions and pace, drafts pending and records held."""
    held: dict[str, int] = {}
    for lease in leases:
        held[lease.annotator] = held.get(lease.annotator, 0) + 1
    rows = con.execute(
        """
        SELECT annotator,
               count(*) FILTER (WHERE status = 'submitted'),
               count(*) FILTER (WHERE status = 'draft'),
               count(*) FILTER (WHERE status = 'submitted' AND updated_at >= $today),
               min(updated_at) FILTER (WHERE status = 'submitted' AND updated_at >= $today),
               max(updated_at) FILTER (WHERE status = 'submitted' AND updated_at >= $today)
        FROM annotations WHERE dataset_id = $d GROUP BY annotator ORDER BY annotator
        """,
        {"d": dataset_id, "today": today},
    ).fetchall()
    out = [
        AnnotatorActivity(str(a), int(s), int(dr), int(t), first, last, held.pop(str(a), 0))
        for a, s, dr, t, first, last in rows
    ]
    out += [AnnotatorActivity(who, 0, 0, 0, None, None, n) for who, n in sorted(held.items())]
    return out


def find_record(con: duckdb.DuckDBPyConnection, dataset_id: int, external_id: str) -> int | None:
    row = first_row(
        con.execute("SELECT id FROM records WHERE dataset_id = ? AND external_id = ?", [dataset_id, external_id])
    )
    return int(row[0]) if row else None


def external_ids(con: duckdb.DuckDBPyConnection, record_ids: list[int]) -> dict[int, str]:
    if not record_ids:
        return {}
    rows = con.execute(
        "SELECT id, external_id FROM records WHERE id BETWEEN $lo AND $hi AND list_contains($ids, id)",
        {"ids": record_ids, "lo": min(record_ids), "hi": max(record_ids)},
    ).fetchall()
    return {int(i): str(e) for i, e in rows}
