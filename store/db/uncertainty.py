"""The `uncertain` strategy's order: records whose candidates the reward model cannot separate first.

One scorer: the smallest margin between the two best-scored candidates comes first. Two scorers
(say two seeds of a reward model): where they disagree most comes first, measured per pair of
candidates as the difference of the two Bradley-Terry probabilities σ(sᵢ − sⱼ), averaged over the
record's pairs (ties: the smaller mean margin first). Records without two scored candidates
follow the scored ones, in import order. Calibration records are not in the order at all (they
go to everyone first)."""

from __future__ import annotations

from array import array
from datetime import datetime
from typing import TYPE_CHECKING, Any

from store.db.assignment import QueueOrder, column_bytes
from store.db.connection import first_row

if TYPE_CHECKING:
    import duckdb

MAX_SCORERS = 2

# The dataset's records with their position in import order, and each scorer's scores of them.
_SCORED = """
    recs AS (SELECT id, n_candidates AS n, (row_number() OVER (ORDER BY id) - 1)::INTEGER AS pos
             FROM records WHERE dataset_id = $d),
    a AS (SELECT s.record_id, s.idx, max(s.score) AS score FROM candidate_scores s
          JOIN recs ON recs.id = s.record_id AND s.idx < recs.n WHERE s.scorer = $a GROUP BY ALL)
"""
_ONE_SCORER = (
    "WITH"
    + _SCORED
    + """,
    k AS (SELECT record_id, l[1] - l[2] AS key1, 0.0 AS key2
          FROM (SELECT record_id, list_sort(list(score), 'DESC') AS l FROM a GROUP BY record_id HAVING count(*) >= 2))
"""
)
# |σ(x) − σ(y)| = |tanh(x/2) − tanh(y/2)| / 2, and tanh never overflows.
_TWO_SCORERS = (
    "WITH"
    + _SCORED
    + """,
    b AS (SELECT s.record_id, s.idx, max(s.score) AS score FROM candidate_scores s
          JOIN recs ON recs.id = s.record_id AND s.idx < recs.n WHERE s.scorer = $b GROUP BY ALL),
    ab AS (SELECT a.record_id, a.idx, a.score AS sa, b.score AS sb FROM a JOIN b USING (record_id, idx)),
    k AS (SELECT x.record_id,
                 -avg(abs(tanh((x.sa - y.sa) / 2) - tanh((x.sb - y.sb) / 2)) / 2) AS key1,
                 avg(abs(x.sa - y.sa) + abs(x.sb - y.sb)) / 2 AS key2
          FROM ab x JOIN ab y ON x.record_id = y.record_id AND x.idx < y.idx GROUP BY x.record_id)
"""
)
_ORDERED = """
SELECT recs.pos, count(k.key1) OVER () AS scored
FROM recs LEFT JOIN k ON k.record_id = recs.id
WHERE recs.pos >= $cal
ORDER BY k.key1 IS NULL, k.key1, k.key2, recs.pos
"""


def queue_scorers(con: duckdb.DuckDBPyConnection, dataset_id: int, settings: dict[str, Any]) -> tuple[str, ...]:
    """The scorers that order the dataset's queue: its `scorers` setting, else the one that scored
    its records last (none when nothing is scored yet)."""
    chosen = settings.get("scorers")
    if chosen:
        return tuple(str(s) for s in chosen)[:MAX_SCORERS]
    row = first_row(
        con.execute(
            """
            SELECT s.scorer FROM candidate_scores s JOIN records r ON r.id = s.record_id
            WHERE r.dataset_id = ? GROUP BY s.scorer ORDER BY max(s.scored_at) DESC, s.scorer LIMIT 1
            """,
            [dataset_id],
        )
    )
    return (str(row[0]),) if row else ()


def last_scored(con: duckdb.DuckDBPyConnection, dataset_id: int, scorers: tuple[str, ...]) -> datetime | None:
    """When any of `scorers` last saved a score for one of the dataset's records."""
    if not scorers:
        return None
    row = first_row(
        con.execute(
            "SELECT max(s.scored_at) FROM candidate_scores s JOIN records r ON r.id = s.record_id "
            "WHERE r.dataset_id = ? AND list_contains(?, s.scorer)",
            [dataset_id, list(scorers)],
        )
    )
    return row[0] if row else None


def uncertain_order(
    con: duckdb.DuckDBPyConnection,
    dataset_id: int,
    counts: bytearray,
    calibration: int,
    scorers: tuple[str, ...],
) -> QueueOrder:
    """The dataset's records after the first `calibration`, most uncertain first."""
    n = len(counts)
    if not scorers:
        return QueueOrder.build(array("i", range(min(calibration, n), n)), counts, n)
    params: dict[str, Any] = {"d": dataset_id, "a": scorers[0], "cal": calibration}
    if len(scorers) > 1:
        params["b"] = scorers[1]
    sql = (_TWO_SCORERS if len(scorers) > 1 else _ONE_SCORER) + _ORDERED
    table = con.sql(sql, params=params).to_arrow_table().combine_chunks()
    positions = array("i")
    positions.frombytes(column_bytes(table, "pos", 4))
    scored = int(table.column("scored")[0].as_py()) if table.num_rows else 0
    return QueueOrder.build(positions, counts, n, scorers, scored)
