"""The embedded store: one DuckDB file, one connection, guarded by a lock so that worker threads can
share it. The CLI, the app and the trainers all go through here (or through the socket client, which
offers the same methods). Its queries live by area in `store.db` (datasets, records and leases,
answers, team, scores); here are the file's life, and import and export, which reach `store.io`."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import duckdb

from store.clock import utcnow
from store.db.assignment import MAX_LEASES_PER_ANNOTATOR, DatasetAssignment
from store.db.base import DEFAULT_LEASE_SECONDS
from store.db.connection import connect
from store.db.group_commit import GroupCommitter
from store.db.migrations import apply_migrations
from store.db.scores import ScoreQueries
from store.io import export as export_module
from store.types import (
    Caller,
    ExportOptions,
    ImportReport,
    Record,
)


class DuckDBStore(ScoreQueries):
    """The store interface over a DuckDB file opened in this process: the areas' layers (store.db),
    with the file's life and import and export, which reach store.io."""

    def __init__(
        self,
        path: str | os.PathLike,
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
        max_leases_per_annotator: int = MAX_LEASES_PER_ANNOTATOR,
    ):
        self.path = Path(path)
        self.lease_seconds = lease_seconds
        self.max_leases_per_annotator = max_leases_per_annotator
        self._lock = threading.RLock()
        # One import at a time, and no dataset created, changed or deleted meanwhile; taken before _lock.
        self._import_lock = threading.Lock()
        self._dataset_rows: dict[str, tuple] = {}
        self._assignments: dict[int, DatasetAssignment] = {}
        # Records never change once imported; annotators working the same front of a dataset
        # (K > 1) ask for the same ones, so the owning process keeps the recent ones.
        self._record_cache: OrderedDict[int, Record] = OrderedDict()
        self._commit = GroupCommitter(lambda: self.connection, self._lock, on_rollback=self._assignments.clear)
        self._con: duckdb.DuckDBPyConnection | None = connect(self.path)
        try:
            apply_migrations(self._con, str(self.path))
            self._con.execute("DELETE FROM leases WHERE expires_at <= ?", [utcnow()]).fetchall()
        except Exception:
            self._con.close()
            raise

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def caller(self) -> Caller:
        return Caller(user=None, admin=True, through_service=False)

    def watch_connection(self, on_change: Callable[[bool], None]) -> None:
        """In-process there is no connection to lose."""

    def __enter__(self) -> DuckDBStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def import_file(
        self,
        path: str | os.PathLike,
        dataset: str,
        task: str | None = None,
        fmt: str = "auto",
        guidelines: str | None = None,
        annotators_per_record: int | None = None,
        skip_invalid: bool = False,
        keep_labels: str | None = None,
        settings: dict | None = None,
    ) -> ImportReport:
        """Import a file into `dataset` (created if new), all or nothing; `settings` are given to the
        dataset in the same transaction (a rate dataset needs its axes there or already)."""
        from store.io import importer  # pyarrow: loaded by imports, not by every command that opens the store

        with self._import_lock:
            with self._lock:
                self._forget(dataset)
                # A connection of its own, outside the store lock: annotators are served while a large
                # file is read, checked and inserted (its one transaction shows nothing until it commits).
                cursor = self.connection.cursor()
            try:
                return importer.import_file(
                    cursor,
                    Path(path),
                    dataset=dataset,
                    task=task,
                    fmt=fmt,
                    guidelines=guidelines,
                    annotators_per_record=annotators_per_record,
                    skip_invalid=skip_invalid,
                    keep_labels=keep_labels,
                    settings=settings,
                )
            finally:
                cursor.close()
                with self._lock:
                    self._forget(dataset)  # state loaded meanwhile did not see the new records

    def export(self, dataset: str, out: str | os.PathLike, options: ExportOptions) -> int:
        """Write an export to `out` (Parquet or JSONL), complete or not at all."""
        target = Path(out)
        file_format = export_module.output_file_format(target)
        return export_module.write_atomically(
            target, lambda tmp: self.export_to_path(dataset, options, file_format, tmp)
        )

    def export_to_path(self, dataset: str, options: ExportOptions, file_format: str, path: Path) -> int:
        """Write the export to `path` as it is (the caller makes it atomic); return the row count."""
        with self._lock:
            dataset_id = self._dataset_id(dataset)
            return export_module.copy_to(self.connection, dataset_id, dataset, options, file_format, path)

    def preference_rows(self, dataset: str, aggregate: str = "all", fallback: str = "majority") -> list[dict]:
        """TRL preference rows (prompt, chosen, rejected, record_id, external_id, annotator, margin)."""
        return self.export_rows(dataset, ExportOptions("preference", aggregate, fallback))

    def export_rows(
        self, dataset: str, options: ExportOptions, offset: int = 0, limit: int | None = None
    ) -> list[dict]:
        """Export rows as dicts, in the export's order; `offset`/`limit` page through them."""
        with self._lock:
            dataset_id = self._dataset_id(dataset)
            return export_module.rows(self.connection, dataset_id, dataset, options, offset, limit)
