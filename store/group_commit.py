"""Group commit: writers that arrive while a commit is running share the next one.

A DuckDB commit costs milliseconds (the write-ahead log is flushed); one per submission
caps a shared store at a few hundred per second. Each caller queues its write and then
takes the store lock; whoever gets it first applies every queued write in one
transaction. A write that fails is retried alone so that it fails alone."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future

import duckdb

Write = Callable[[duckdb.DuckDBPyConnection], object]


class GroupCommitter:
    def __init__(
        self,
        con_getter: Callable[[], duckdb.DuckDBPyConnection],
        lock: threading.RLock,
        on_rollback: Callable[[], None] = lambda: None,
    ):
        self._con = con_getter
        self._lock = lock
        self._on_rollback = on_rollback  # writes may have changed in-memory state: rebuild it
        self._queue_lock = threading.Lock()
        self._pending: list[tuple[Write, Future]] = []

    def run(self, write: Write):
        """Apply `write(con)` durably (under the store lock) and return its result or raise its error."""
        future: Future = Future()
        with self._queue_lock:
            self._pending.append((write, future))
        with self._lock:
            if not future.done():
                with self._queue_lock:
                    batch, self._pending = self._pending, []
                self._apply(batch)
        return future.result()

    def _apply(self, batch: list[tuple[Write, Future]]) -> None:
        con = self._con()
        con.execute("BEGIN TRANSACTION").fetchall()
        try:
            results = [write(con) for write, _ in batch]
            con.execute("COMMIT").fetchall()
        except BaseException as exc:
            con.execute("ROLLBACK").fetchall()
            self._on_rollback()
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
                return
            for item in batch:  # find the one that failed; the others still land
                self._apply([item])
            return
        for (_, future), result in zip(batch, results):
            future.set_result(result)
