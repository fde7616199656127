"""Synthetic data at scale, for benchmarks and load tests (never for real datasets)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

    from store.embedded import DuckDBStore


def write_native_jsonl(con: duckdb.DuckDBPyConnection, path: Path, n_records: int, n_candidates: int = 4) -> None:
    """A native-format JSONL file of `n_records` records, written by DuckDB itself."""
    target = "'" + str(path).replace("'", "''") + "'"
    con.execute(
        f"""
        COPY (
            SELECT 'rec-' || i AS id,
                   'Question ' || i || ': explain topic ' || (i % 997) || ' to a new colleague.' AS prompt,
                   [{{'text': 'Answer ' || j || ' to question ' || i || ', with a few sentences of detail.',
                      'source': 'policy-v' || j}} FOR j IN range({n_candidates})] AS responses,
                   {{'category': 'synthetic'}} AS metadata
            FROM range({n_records}) t(i)
        ) TO {target} (FORMAT json)
        """
    ).fetchall()


def add_random_rankings(store: DuckDBStore, dataset: str, annotators: list[str], seed: int = 0) -> int:
    """Give every record of `dataset` a random submitted ranking by each annotator; return the count."""
    from store.clock import utcnow

    con = store.connection
    dataset_id = store._dataset_id(dataset)
    con.execute("BEGIN TRANSACTION").fetchall()
    try:
        # Ranks: each candidate's position in an order shuffled by a hash of (record, annotator, seed).
        count = con.execute(
            """
            INSERT INTO annotations (record_id, dataset_id, annotator, status, ranks, shown_order,
                                     seconds_spent, created_at, updated_at)
            SELECT r.id, r.dataset_id, a.name, 'submitted',
                   (SELECT list(pos ORDER BY idx) FROM (
                        SELECT idx, row_number() OVER (ORDER BY hash(r.id, a.name, $seed, idx)) AS pos
                        FROM unnest(range(r.n_candidates)) t(idx))),
                   range(r.n_candidates), 30.0, $now, $now
            FROM records r CROSS JOIN (SELECT unnest($annotators::VARCHAR[]) AS name) a
            WHERE r.dataset_id = $d
            """,
            {"d": dataset_id, "annotators": annotators, "now": utcnow(), "seed": seed},
        ).fetchall()[0][0]
        con.execute("COMMIT").fetchall()
    except Exception:
        con.execute("ROLLBACK").fetchall()
        raise
    return int(count)
