"""Group commit: writes that share a transaction land or fail one by one, a failed COMMIT
reports its own error, and the store's memory always agrees with the database afterwards."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import duckdb
import pytest
from conftest import rank_rows

from store import AnnotationInput
from store.db.group_commit import GroupCommitter

WAIT_S = 10.0


class ScriptedConnection:
    """Passes statements to a real connection, records them, and fails on cue the way DuckDB does.

    A failing COMMIT first really rolls back, so the database is as after a failed commit:
    no transaction is active any more."""

    def __init__(self, real: duckdb.DuckDBPyConnection) -> None:
        self.real = real
        self.statements: list[str] = []
        self.failing_commits = 0
        self.failing_rollback: Exception | None = None
        self.failing_begin: Exception | None = None
        self.fail_when: Callable[[str, object], Exception | None] = lambda sql, params: None

    def execute(self, sql: str, params: object = None) -> duckdb.DuckDBPyConnection:
        verb = sql.split()[0].upper()
        self.statements.append(verb)
        if verb == "BEGIN" and self.failing_begin is not None:
            raise self.failing_begin
        if verb == "COMMIT" and self.failing_commits:
            self.failing_commits -= 1
            self.real.execute("ROLLBACK")
            raise duckdb.TransactionException("simulated commit failure")
        if verb == "ROLLBACK" and self.failing_rollback is not None:
            self.real.execute("ROLLBACK")
            raise self.failing_rollback
        if (error := self.fail_when(sql, params)) is not None:
            raise error
        return self.real.execute(sql, params) if params is not None else self.real.execute(sql)

    def transactions(self) -> int:
        return self.statements.count("BEGIN")


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


# -- the committer on its own ---------------------------------------------------------


@pytest.fixture
def table(tmp_path):
    con = duckdb.connect(str(tmp_path / "g.duckdb"))
    con.execute("CREATE TABLE t (k INTEGER NOT NULL)")
    yield con
    con.close()


def keys(con: duckdb.DuckDBPyConnection) -> list[int]:
    return [r[0] for r in con.execute("SELECT k FROM t ORDER BY k").fetchall()]


def insert(k: int | None) -> Callable[[duckdb.DuckDBPyConnection], object]:
    return lambda con: con.execute("INSERT INTO t VALUES (?) RETURNING k", [k]).fetchall()[0][0]


def run_batched(committer: GroupCommitter, lock: threading.RLock, writes: list) -> list[tuple[str, object]]:
    """Runs the writes from one thread each, all queued before any is applied: one batch."""
    outcomes: list[tuple[str, object]] = [("missing", None)] * len(writes)

    def worker(i: int) -> None:
        try:
            outcomes[i] = ("ok", committer.run(writes[i]))
        except BaseException as exc:
            outcomes[i] = ("error", exc)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(writes))]
    with lock:  # the workers queue up behind it
        for t in threads:
            t.start()
        wait_until(lambda: len(committer._pending) == len(writes))
    for t in threads:
        t.join(WAIT_S)
    assert not any(t.is_alive() for t in threads), "a writer never got its answer"
    return outcomes


def test_a_bad_write_in_a_batch_fails_alone_and_the_good_ones_land(table):
    con, lock, rollbacks = ScriptedConnection(table), threading.RLock(), []
    committer = GroupCommitter(lambda: con, lock, on_rollback=lambda: rollbacks.append(1))
    outcomes = run_batched(committer, lock, [insert(1), insert(None), insert(3)])
    assert outcomes[0] == ("ok", 1) and outcomes[2] == ("ok", 3)
    assert outcomes[1][0] == "error" and isinstance(outcomes[1][1], duckdb.ConstraintException)
    assert keys(table) == [1, 3]
    assert con.transactions() == 4  # the batch of three, then each alone
    assert rollbacks == [1, 1]  # the batch's and the bad write's own


def test_a_failed_commit_surfaces_its_error_and_runs_on_rollback(table):
    con, lock, rollbacks = ScriptedConnection(table), threading.RLock(), []
    committer = GroupCommitter(lambda: con, lock, on_rollback=lambda: rollbacks.append(1))
    con.failing_commits = 1
    with pytest.raises(duckdb.TransactionException, match="simulated commit failure"):
        committer.run(insert(1))
    assert rollbacks == [1]
    assert keys(table) == []
    assert committer.run(insert(2)) == 2  # the connection is usable again
    assert keys(table) == [2]


def test_a_batch_whose_commit_fails_is_retried_write_by_write(table):
    con, lock, rollbacks = ScriptedConnection(table), threading.RLock(), []
    committer = GroupCommitter(lambda: con, lock, on_rollback=lambda: rollbacks.append(1))
    con.failing_commits = 1
    outcomes = run_batched(committer, lock, [insert(1), insert(2)])
    assert outcomes == [("ok", 1), ("ok", 2)]
    assert keys(table) == [1, 2] and con.transactions() == 3 and rollbacks == [1]


def test_a_rollback_failure_is_logged_but_the_write_error_is_what_is_raised(table, caplog):
    con, lock, rollbacks = ScriptedConnection(table), threading.RLock(), []
    committer = GroupCommitter(lambda: con, lock, on_rollback=lambda: rollbacks.append(1))
    con.failing_rollback = duckdb.IOException("simulated rollback failure")
    with caplog.at_level(logging.WARNING, logger="store.db.group_commit"), pytest.raises(duckdb.ConstraintException):
        committer.run(insert(None))
    assert rollbacks == [1]
    assert "simulated rollback failure" in caplog.text


def test_when_begin_fails_every_queued_writer_gets_the_error(table):
    con, lock = ScriptedConnection(table), threading.RLock()
    committer = GroupCommitter(lambda: con, lock)
    con.failing_begin = duckdb.TransactionException("simulated begin failure")
    outcomes = run_batched(committer, lock, [insert(1), insert(2)])
    assert [kind for kind, _ in outcomes] == ["error", "error"]
    assert all("simulated begin failure" in str(exc) for _, exc in outcomes)


# -- through the store ------------------------------------------------------------------


def scripted(store) -> ScriptedConnection:
    con = ScriptedConnection(store.connection)
    store._commit._con = lambda: con
    return con


def test_a_failed_commit_of_an_answer_raises_it_and_the_record_is_handed_out_again(store, jsonl):
    store.import_file(jsonl(rank_rows(2)), dataset="d")
    con = scripted(store)
    (record,) = store.next_records("d", "ann")
    con.failing_commits = 1
    with pytest.raises(duckdb.TransactionException, match="simulated commit failure"):
        store.save_annotation(AnnotationInput(record.id, "ann", "submitted", (1, 2, 3, 4)))
    assert store.get_annotation(record.id, "ann") is None
    assert store.progress("d", "ann").submitted == 0
    assert [r.id for r in store.next_records("d", "ann")] == [record.id]
    store.save_annotation(AnnotationInput(record.id, "ann", "submitted", (1, 2, 3, 4)))
    assert store.progress("d", "ann").submitted == 1
    assert record.id not in [r.id for r in store.next_records("d", "ann")]


def test_concurrent_writers_share_commits_and_a_bad_write_fails_alone(store, jsonl):
    store.import_file(jsonl(rank_rows(40)), dataset="d", annotators_per_record=2)
    store.update_dataset("d", settings={"assignment": "spread"})  # the fewest submissions first
    ids = store.record_ids("d")
    con = scripted(store)

    def refuse_one_answer(sql: str, params: object) -> Exception | None:
        # Fails inside the group committer's transaction, where it shares a batch with others.
        if "INSERT INTO annotations" in sql and isinstance(params, list) and ids[13] in params:
            return duckdb.ConstraintException("simulated constraint failure")
        return None

    con.fail_when = refuse_one_answer
    errors: list[str] = []
    barrier = threading.Barrier(8)

    def annotate(worker: int) -> None:
        barrier.wait()
        for record_id in ids[worker * 5 : (worker + 1) * 5]:
            try:
                store.save_annotation(AnnotationInput(record_id, f"w{worker}", "submitted", (1, 2, 3, 4)))
            except duckdb.ConstraintException as exc:
                errors.append(str(exc))

    threads = [threading.Thread(target=annotate, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == ["simulated constraint failure"]
    assert store.list_datasets()[0].submissions == 39
    assert store.get_annotation(ids[13], "w2") is None
    assert store.progress("d", "w2").submitted == 4
    # Memory agrees with the table: the one unanswered record comes first (fewest submissions).
    assert store.next_records("d", "w2")[0].id == ids[13]
