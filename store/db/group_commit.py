"""Group commit: writers that arrive while a commit is running share the next one.

A DuckDB commit costs milliseconds (the write-ahead log is flushed); one per submission
caps a shared store at a few hundred per second. Each caller queues its write and then
takes the store lock; whoever gets it first applies every queued write in one
transaction. A write that fails is retried alone so that it fails alone.

A failed COMMIT has already ended the transaction in DuckDB, so the ROLLBACK that follows
may find nothing to roll back; the write's own error is what its caller sees, and
`on_rollback` always runs so that in-memory state never claims a write that is not stored."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

import duckdb

from store.db.transactions import roll_back

Write = Callable[[duckdb.DuckDBPyConnection], object]
T = TypeVar("T")

log = logging.getLogger(__name__)


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

    def run(self, write: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Apply `write(con)` durably (under the store lock) and return its result or raise its error."""
        future: Future[T] = Future()
        with self._queue_lock:
            self._pending.append((write, future))
        with self._lock:
            if not future.done():
                with self._queue_lock:
                    batch, self._pending = self._pending, []
                try:
                    self._apply(batch)
                finally:
                    for _, other in batch:  # nobody may wait for ever on a write that was never applied
                        if not other.done():
                            other.set_exception(RuntimeError("the group commit stopped before this write was applied"))
        return future.result()

    def _apply(self, batch: list[tuple[Write, Future]]) -> None:
        try:
            con = self._con()
            con.execute("BEGIN TRANSACTION").fetchall()
        except BaseException as exc:
            for _, future in batch:
                future.set_exception(exc)
            return
        try:
            results = [write(con) for write, _ in batch]
            con.execute("COMMIT").fetchall()
        except BaseException as exc:
            self._roll_back(con)
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
                return
            for item in batch:  # find the one that failed; the others still land
                self._apply([item])
            return
        for (_, future), result in zip(batch, results):
            future.set_result(result)

    def _roll_back(self, con: duckdb.DuckDBPyConnection) -> None:
        """End the failed transaction; whatever happens, the caller reports the write's own error
        and in-memory state is rebuilt from the database."""
        try:
            roll_back(con)
        finally:
            self._on_rollback()
