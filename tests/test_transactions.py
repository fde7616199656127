"""The store's one transaction helper: all of a block's statements land, or none do."""

from __future__ import annotations

import duckdb
import pytest

from store.db.transactions import transaction


def test_a_block_that_raises_leaves_nothing_behind():
    con = duckdb.connect()
    con.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
    with pytest.raises(ValueError), transaction(con):
        con.execute("INSERT INTO t VALUES (1)")
        raise ValueError("a check failed half-way")
    assert con.execute("SELECT count(*) FROM t").fetchone() == (0,)
    with transaction(con):  # and the connection is usable again
        con.execute("INSERT INTO t VALUES (2)")
    assert con.execute("SELECT x FROM t").fetchall() == [(2,)]


def test_a_write_conflict_is_the_error_the_caller_sees_and_nothing_of_the_block_lands():
    con = duckdb.connect()
    con.execute("CREATE TABLE t (x INTEGER PRIMARY KEY, y INTEGER)")
    con.execute("INSERT INTO t VALUES (1, 0), (2, 0)")
    other = con.cursor()
    other.execute("BEGIN TRANSACTION")
    other.execute("UPDATE t SET y = 20 WHERE x = 1")  # another connection holds row 1
    with pytest.raises(duckdb.TransactionException), transaction(con):
        con.execute("UPDATE t SET y = 10 WHERE x = 2")
        con.execute("UPDATE t SET y = 10 WHERE x = 1")  # conflicts
    other.execute("ROLLBACK")
    assert con.execute("SELECT y FROM t ORDER BY x").fetchall() == [(0,), (0,)]
