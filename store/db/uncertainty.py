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

from store.db.assignment import QueueOrder
from store.db.connection import first_row

if TYPE_CHECKING:
    import duckdb

MAX_SCORERS = 2

# The dataset's records with their position in import order. A record whose scores name a
# candidate it does not have (stale scores) counts as not scored.
_RECORDS = """
    recs AS (SELECT id, n_candidates AS n, (row_number() OVER (ORDER BY id) - 1)::INTEGER AS pos
             FROM records WHERE dataset_id = $d)
"""
# One scorer: the two best scores per record in one aggregate, no join of the candidates.
_ONE_SCORER = (
    "WITH"
    + _RECORDS
    + """,
    k AS (SELECT record_id, max(score, 2) AS top, max(idx) AS last_idx, count(*) AS scored
          FROM candidate_scores WHERE scorer = $a GROUP BY record_id),
    keyed AS (SELECT recs.pos, CASE WHEN k.scored >= 2 AND k.last_idx < recs.n THEN k.top[1] - k.top[2] END AS key1,
                     0.0 AS key2
              FROM recs LEFT JOIN k ON k.record_id = recs.id)
"""
)
# Two scorers: |σ(x) − σ(y)| = |tanh(x/2) − tanh(y/2)| / 2 per candidate pair, and tanh never overflows.
_TWO_SCORERS = (
    "WITH"
    + _RECORDS
    + """,
    ab AS (SELECT a.record_id, a.idx, a.score AS sa, b.score AS sb
           FROM (SELECT * FROM candidate_scores WHERE scorer = $a) a
           JOIN (SELECT * FROM candidate_scores WHERE scorer = $b) b USING (record_id, idx)),
    k AS (SELECT x.record_id,
                 -avg(abs(tanh((x.sa - y.sa) / 2) - tanh((x.sb - y.sb) / 2)) / 2) AS d,
                 avg(abs(x.sa - y.sa) + abs(x.sb - y.sb)) / 2 AS m,
                 max(y.idx) AS last_idx
          FROM ab x JOIN ab y ON x.record_id = y.record_id AND x.idx < y.idx GROUP BY x.record_id),
    keyed AS (SELECT recs.pos, CASE WHEN k.last_idx < recs.n THEN k.d END AS key1, k.m AS key2
              FROM recs LEFT JOIN k ON k.record_id = recs.id)
"""
)
_ORDERED = """
SELECT pos, key1 IS NOT NULL AS scored FROM keyed
WHERE pos >= $cal
ORDER BY key1 IS NULL, key1, key2, pos
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
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(counts)
    start = min(calibration, n)
    if not scorers:
        return _laid_out(pa.array(range(start, n), pa.int32()), counts, start, (), 0)
    params: dict[str, Any] = {"d": dataset_id, "a": scorers[0], "cal": calibration}
    if len(scorers) > 1:
        params["b"] = scorers[1]
    sql = (_TWO_SCORERS if len(scorers) > 1 else _ONE_SCORER) + _ORDERED
    table = con.sql(sql, params=params).to_arrow_table().combine_chunks()
    scored = int(pc.sum(table.column("scored")).as_py() or 0) if table.num_rows else 0
    positions = table.column("pos").chunk(0) if table.num_rows else pa.array([], pa.int32())
    return _laid_out(positions, counts, start, scorers, scored)


def _laid_out(positions: Any, counts: bytearray, start: int, scorers: tuple[str, ...], scored: int) -> QueueOrder:
    """The order's arrays built by Arrow kernels, not Python loops (a million records in well under a second):
    the inverse permutation is the argsort of the positions, the counts by rank a take."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(counts)
    as_bytes = pa.py_buffer(bytes(counts))
    by_position = pa.Array.from_buffers(pa.uint8(), n, [None, as_bytes])
    by_rank = pc.take(by_position, positions)
    inverse = pc.sort_indices(positions).cast(pa.int32())  # the rank of position start + j
    ranks = array("i", [-1]) * start
    ranks.frombytes(_values(inverse, 4))
    laid = array("i")
    laid.frombytes(_values(positions, 4))
    return QueueOrder(laid, ranks, bytearray(_values(by_rank, 1)), scorers, scored)


def _values(column: Any, width: int) -> bytes:
    """The raw values of a non-null fixed-width Arrow array."""
    if not len(column):
        return b""
    return column.buffers()[1].to_pybytes()[column.offset * width : (column.offset + len(column)) * width]
