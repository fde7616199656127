"""The one way the store writes several statements as one: `with transaction(con):` — all or nothing.

A failed COMMIT has already ended the transaction in DuckDB, so the ROLLBACK that follows may find none;
that is not a second error. The error that ended the block is the one the caller sees."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

log = logging.getLogger(__name__)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN; the block's statements; COMMIT — or ROLLBACK when anything in the block (or the COMMIT) raised."""
    con.execute("BEGIN TRANSACTION").fetchall()
    try:
        yield con
        con.execute("COMMIT").fetchall()
    except BaseException:
        roll_back(con)
        raise


def roll_back(con: duckdb.DuckDBPyConnection) -> None:
    """End a failed transaction, if one is still open."""
    try:
        con.execute("ROLLBACK").fetchall()
    except duckdb.Error as exc:
        if not (isinstance(exc, duckdb.TransactionException) and "no transaction is active" in str(exc)):
            log.warning("ROLLBACK after a failed write also failed: %s", exc)
