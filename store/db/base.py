"""What every area of the embedded store shares: the connection and its lock, the dataset rows and
assignment states it keeps in memory, and the limits. `store.embedded.DuckDBStore` is built on it, one
layer per area: datasets, records and leases, answers, the team (review), scores."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from store.clock import utcnow
from store.dataset_settings import assignment_of
from store.db import uncertainty
from store.db.assignment import DatasetAssignment, load_assignment
from store.db.connection import first_row
from store.db.group_commit import GroupCommitter
from store.errors import StoreError, UnknownDatasetError
from store.types import (
    ChatMessage,
    Prompt,
    Record,
)

DEFAULT_LEASE_SECONDS = 300
# Revisions one answer may have: far more than anyone amends by hand, few enough that one answer
# amended in a loop cannot fill the disk (each revision of a written answer keeps its text).
MAX_REVISIONS_PER_ANSWER = 500
RECORD_CACHE_SIZE = 20_000
READ_AHEAD = 32  # records fetched along with a cache miss
CLUSTER_GAP = 4096  # record ids further apart are fetched by separate narrow queries


def _page(limit: int | None) -> int:
    """A LIMIT value: `None` means every row."""
    return (1 << 62) if limit is None else int(limit)


def _id_clusters(ids: list[int]) -> list[list[int]]:
    """The ids sorted and cut where two are over CLUSTER_GAP apart: records scattered over a
    dataset (an `uncertain` queue) are then fetched by a few narrow scans, not one of the whole table."""
    ordered = sorted(set(ids))
    clusters = [[ordered[0]]] if ordered else []
    for record_id in ordered[1:]:
        if record_id - clusters[-1][-1] > CLUSTER_GAP:
            clusters.append([])
        clusters[-1].append(record_id)
    return clusters


def _prompt_from_row(text: str | None, messages: list | None) -> Prompt:
    if messages is not None:
        return tuple(ChatMessage(m["role"], m["content"]) for m in messages)
    return text or ""


class StoreBase:
    """The state every area reads: set up by `DuckDBStore.__init__`."""

    path: Path
    lease_seconds: int
    max_leases_per_annotator: int
    _lock: threading.RLock
    _import_lock: threading.Lock
    _dataset_rows: dict[str, tuple]
    _assignments: dict[int, DatasetAssignment]
    _record_cache: OrderedDict[int, Record]
    _commit: GroupCommitter
    _con: duckdb.DuckDBPyConnection | None

    def _live(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise StoreError("the store is closed")
        return self._con

    def _q(self, sql: str, params: Sequence | dict | None = None) -> duckdb.DuckDBPyConnection:
        return self._live().execute(sql, params or [])

    def _dataset_row(self, name: str) -> tuple[Any, ...]:
        cached = self._dataset_rows.get(name)
        if cached is not None:
            return cached
        row = first_row(
            self._q(
                "SELECT id, name, task, guidelines, annotators_per_record, settings, created_at "
                "FROM datasets WHERE name = ?",
                [name],
            )
        )
        if row is None:
            known = [r[0] for r in self._q("SELECT name FROM datasets ORDER BY name").fetchall()]
            hint = (
                f" (known: {', '.join(known)})" if known else " (the store has no datasets yet; run `rlhf-tui import`)"
            )
            raise UnknownDatasetError(f"no dataset named {name!r}{hint}")
        self._dataset_rows[name] = row
        return row

    def _forget(self, name: str) -> None:
        """Drop cached state of a dataset whose rows or settings changed."""
        row = self._dataset_rows.pop(name, None)
        if row is not None:
            self._assignments.pop(row[0], None)

    def _assignment(self, dataset: str) -> DatasetAssignment:
        dataset_id, _, task, _, k, settings, _ = self._dataset_row(dataset)
        state = self._assignments.get(dataset_id)
        if state is None:
            parsed = json.loads(settings or "{}")
            strategy, calibration = assignment_of(parsed, k)
            state = load_assignment(self.connection, dataset_id, task, k, utcnow(), strategy, calibration)
            state.settings = parsed
            self._order_queue(state)
            self._assignments[dataset_id] = state
        return state

    def _order_queue(self, state: DatasetAssignment) -> None:
        """Lay out an `uncertain` dataset's queue from the scores saved so far."""
        if state.strategy != "uncertain":
            return
        scorers = uncertainty.queue_scorers(self.connection, state.dataset_id, state.settings)
        state.order = uncertainty.uncertain_order(
            self.connection, state.dataset_id, state.counts, state.calibration, scorers
        )

    def _assignment_of_record(self, record_id: int) -> tuple[DatasetAssignment, int]:
        """(the record's dataset state, its position there), loading the dataset if needed."""
        for state in self._assignments.values():
            pos = state.position(record_id)
            if pos >= 0:
                return state, pos
        row = first_row(
            self._q("SELECT d.name FROM records r JOIN datasets d ON d.id = r.dataset_id WHERE r.id = ?", [record_id])
        )
        if row is None:
            raise StoreError(f"no record with id {record_id}")
        state = self._assignment(row[0])
        return state, state.position(record_id)

    def _dataset_id(self, name: str) -> int:
        return self._dataset_row(name)[0]

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise StoreError("the store is closed")
        return self._con
