"""The embedded store: one DuckDB file, one connection, guarded by a lock so that
worker threads can share it. The CLI, the app and the trainers all go through here
(or through the socket client, which offers the same methods)."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from store.answer_checks import MAX_COMMENT_CHARS, check_answer
from store.clock import utcnow
from store.dataset_names import check_dataset_name
from store.dataset_settings import assignment_of, check_settings
from store.db import model_review, uncertainty
from store.db import reviews as review_queries
from store.db.assignment import MAX_LEASES_PER_ANNOTATOR, DatasetAssignment, load_assignment
from store.db.connection import connect, first_row
from store.db.dataset_rows import insert_dataset
from store.db.group_commit import GroupCommitter
from store.db.migrations import apply_migrations
from store.db.transactions import transaction
from store.errors import InvalidInputError, PermissionDeniedError, StoreError, UnknownDatasetError
from store.io import export as export_module
from store.names import TASK_KINDS
from store.types import (
    MAX_CANDIDATES,
    Annotation,
    AnnotationInput,
    AnnotatorActivity,
    AnnotatorProgress,
    Caller,
    Candidate,
    ChatMessage,
    Dataset,
    DatasetContents,
    DatasetSummary,
    ExportOptions,
    ImportReport,
    LeaseInfo,
    Prompt,
    QueueInfo,
    Record,
    Review,
    ReviewInput,
    ReviewItem,
    StatusCount,
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


class DuckDBStore:
    """The store interface over a DuckDB file opened in this process."""

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

    # -- lifecycle ---------------------------------------------------------
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

    def _live(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise StoreError("the store is closed")
        return self._con

    def _q(self, sql: str, params: Sequence | dict | None = None) -> duckdb.DuckDBPyConnection:
        return self._live().execute(sql, params or [])

    # -- datasets ----------------------------------------------------------
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

    def get_dataset(self, name: str) -> Dataset:
        with self._lock:
            _, name, task, guidelines, k, settings, created = self._dataset_row(name)
        return Dataset(name, task, guidelines, k, json.loads(settings or "{}"), created)

    def create_dataset(
        self,
        name: str,
        task: str,
        guidelines: str = "",
        annotators_per_record: int = 1,
        settings: dict | None = None,
    ) -> Dataset:
        if task not in TASK_KINDS:
            raise InvalidInputError(f"task must be one of {', '.join(TASK_KINDS)}, not {task!r}")
        if annotators_per_record < 1:
            raise InvalidInputError("annotators per record must be at least 1")
        check_dataset_name(name)
        settings = check_settings(settings or {})
        with self._import_lock, self._lock:  # never during an import
            if self._q("SELECT 1 FROM datasets WHERE name = ?", [name]).fetchall():
                raise InvalidInputError(f"a dataset named {name!r} already exists")
            insert_dataset(self.connection, name, task, guidelines, annotators_per_record, settings, utcnow())
        return self.get_dataset(name)

    def update_dataset(
        self,
        name: str,
        guidelines: str | None = None,
        annotators_per_record: int | None = None,
        settings: dict | None = None,
    ) -> Dataset:
        """Change a dataset's guidelines, K, or settings (merged into the current ones)."""
        with self._import_lock, self._lock:  # never during an import
            dataset_id, _, _, _, _, current, _ = self._dataset_row(name)
            self._forget(name)
            if settings is not None:
                merged = check_settings({**json.loads(current or "{}"), **settings})
                self._q("UPDATE datasets SET settings = ? WHERE id = ?", [json.dumps(merged), dataset_id])
            if guidelines is not None:
                self._q("UPDATE datasets SET guidelines = ? WHERE id = ?", [guidelines, dataset_id])
            if annotators_per_record is not None:
                if annotators_per_record < 1:
                    raise InvalidInputError("annotators per record must be at least 1")
                self._q(
                    "UPDATE datasets SET annotators_per_record = ? WHERE id = ?",
                    [annotators_per_record, dataset_id],
                )
        return self.get_dataset(name)

    def rename_dataset(self, name: str, new_name: str) -> Dataset:
        """Give a dataset another name; its records, answers and settings stay as they are."""
        check_dataset_name(new_name)
        with self._import_lock, self._lock:  # never during an import
            dataset_id = self._dataset_id(name)
            if new_name != name and self._q("SELECT 1 FROM datasets WHERE name = ?", [new_name]).fetchall():
                raise InvalidInputError(f"a dataset named {new_name!r} already exists")
            self._forget(name)
            self._q("UPDATE datasets SET name = ? WHERE id = ?", [new_name, dataset_id])
        return self.get_dataset(new_name)

    def archive_dataset(self, name: str, archived: bool = True) -> Dataset:
        """Hide a dataset from the pickers and the list (archived) or show it again; nothing is removed."""
        return self.update_dataset(name, settings={"archived": archived})

    def dataset_contents(self, name: str) -> DatasetContents:
        """What deleting the dataset would remove."""
        with self._lock:
            dataset_id = self._dataset_id(name)
            row = first_row(
                self._q(
                    """
                    SELECT
                        (SELECT count(*) FROM records WHERE dataset_id = $d),
                        (SELECT count(*) FROM candidates c JOIN records r ON r.id = c.record_id
                         WHERE r.dataset_id = $d),
                        (SELECT count(*) FROM annotations WHERE dataset_id = $d),
                        (SELECT count(DISTINCT annotator) FROM annotations WHERE dataset_id = $d),
                        (SELECT count(*) FROM reviews WHERE dataset_id = $d),
                        (SELECT count(*) FROM candidate_scores s JOIN records r ON r.id = s.record_id
                         WHERE r.dataset_id = $d)
                    """,
                    {"d": dataset_id},
                )
            )
        assert row is not None
        return DatasetContents(name, *(int(v) for v in row))

    def delete_dataset(self, name: str, with_answers: bool = False) -> DatasetContents:
        """Remove a dataset and everything in it; one holding answers only `with_answers`.
        Returns what was removed."""
        with self._import_lock, self._lock:  # never during an import
            contents = self.dataset_contents(name)
            if contents.answers and not with_answers:
                raise InvalidInputError(
                    f"dataset {name!r} holds {contents.answers:,} answers by {contents.annotators:,} annotators; "
                    "deleting it deletes them too, so it must be asked for twice (or archive it: nothing is lost)"
                )
            dataset_id = self._dataset_id(name)
            self._forget(name)
            self._record_cache.clear()  # ids of deleted records may be handed out again
            with transaction(self._live()):
                for table in ("leases", "candidates", "candidate_scores"):
                    self._q(
                        f"DELETE FROM {table} WHERE record_id IN (SELECT id FROM records WHERE dataset_id = ?)",
                        [dataset_id],
                    )
                for table in ("annotation_history", "annotations", "skips", "review_history", "reviews", "records"):
                    self._q(f"DELETE FROM {table} WHERE dataset_id = ?", [dataset_id])
                self._q("DELETE FROM datasets WHERE id = ?", [dataset_id])
        return contents

    def list_datasets(self, include_archived: bool = False) -> list[DatasetSummary]:
        """Every dataset with its progress; archived ones only with `include_archived`."""
        with self._lock:
            rows = self._q(
                """
                WITH subs AS (
                    SELECT record_id, count(*) AS n FROM annotations
                    WHERE status = 'submitted' GROUP BY record_id
                )
                SELECT d.name, d.task, d.annotators_per_record,
                       count(r.id) AS records,
                       coalesce(sum(s.n), 0) AS submissions,
                       count(r.id) FILTER (WHERE s.n >= d.annotators_per_record) AS complete,
                       coalesce(json_extract(d.settings, '$.archived')::BOOLEAN, false) AS archived
                FROM datasets d
                LEFT JOIN records r ON r.dataset_id = d.id
                LEFT JOIN subs s ON s.record_id = r.id
                GROUP BY d.id, d.name, d.task, d.annotators_per_record, d.settings
                ORDER BY d.name
                """
            ).fetchall()
        return [
            DatasetSummary(n, t, k, int(rc), int(sc), int(c), bool(a))
            for n, t, k, rc, sc, c, a in rows
            if include_archived or not a
        ]

    # -- import / export -----------------------------------------------------
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

    # -- records -------------------------------------------------------------
    def get_records(self, record_ids: Sequence[int]) -> list[Record]:
        """Records with their candidates, in the order of `record_ids`."""
        wanted = [int(i) for i in record_ids]
        with self._lock:
            cache = self._record_cache
            ids = [i for i in wanted if i not in cache]
            for i in wanted:  # hits first become the most recent, so that trimming never drops one of them
                if i in cache:
                    cache.move_to_end(i)
            if ids:
                ids += self._neighbours(ids, cache)
                for record in self._fetch_records(ids):
                    cache[record.id] = record
                while len(cache) > max(RECORD_CACHE_SIZE, len(wanted)):
                    cache.popitem(last=False)
            return [cache[i] for i in wanted]

    def _neighbours(self, ids: list[int], cache: OrderedDict[int, Record]) -> list[int]:
        """Records just after a missed one in its dataset: annotators move through a
        dataset in order, so one query fetches what the next requests will need."""
        state = next((st for st in self._assignments.values() if st.position(ids[-1]) >= 0), None)
        if state is None or state.order is not None:  # an `uncertain` queue does not run in id order
            return []
        pos = state.position(ids[-1])
        after = state.ids[pos + 1 : pos + 1 + READ_AHEAD]
        return [i for i in after if i not in cache and i not in ids]

    def _fetch_records(self, ids: list[int]) -> list[Record]:
        """Records by id (raises for an unknown one). The BETWEEN lets DuckDB skip row
        groups by their min/max, since records and candidates are stored in id order."""
        records = []
        candidates: dict[int, list[Candidate]] = {}
        with self._lock:
            for cluster in _id_clusters(ids):
                params = {"ids": cluster, "lo": cluster[0], "hi": cluster[-1]}
                records += self._q(
                    "SELECT r.id, d.name, r.external_id, r.prompt_text, r.prompt_messages, r.metadata "
                    "FROM records r JOIN datasets d ON d.id = r.dataset_id "
                    "WHERE r.id BETWEEN $lo AND $hi AND list_contains($ids, r.id)",
                    params,
                ).fetchall()
                for rid, idx, text, source in self._q(
                    "SELECT record_id, idx, text, source FROM candidates "
                    "WHERE record_id BETWEEN $lo AND $hi AND list_contains($ids, record_id) ORDER BY record_id, idx",
                    params,
                ).fetchall():
                    candidates.setdefault(rid, []).append(Candidate(idx, text, source))
        by_id = {
            rid: Record(
                id=rid,
                dataset=dname,
                external_id=ext,
                prompt=_prompt_from_row(text, messages),
                candidates=tuple(candidates.get(rid, ())),
                metadata=json.loads(metadata) if metadata else {},
            )
            for rid, dname, ext, text, messages, metadata in records
        }
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise StoreError(f"no record with id {missing[0]}")
        return [by_id[i] for i in ids]

    def get_record(self, record_id: int) -> Record:
        return self.get_records([record_id])[0]

    def record_ids(self, dataset: str, offset: int = 0, limit: int | None = None) -> list[int]:
        """The dataset's record ids in import order; `offset`/`limit` page through them."""
        with self._lock:
            dataset_id = self._dataset_id(dataset)
            rows = self._q(
                "SELECT id FROM records WHERE dataset_id = ? ORDER BY id LIMIT ? OFFSET ?",
                [dataset_id, _page(limit), offset],
            ).fetchall()
        return [r[0] for r in rows]

    # -- task assignment -----------------------------------------------------
    def next_records(
        self,
        dataset: str,
        annotator: str,
        limit: int = 1,
        exclude: Iterable[int] = (),
        now: datetime | None = None,
    ) -> list[Record]:
        """The next records this annotator should see, and a lease on each.

        Order: records holding this annotator's draft, then the fewest submissions,
        then import order. A record qualifies if the annotator has not answered it,
        it has fewer than K submissions, and submissions plus other people's live
        leases stay under K."""
        now = now or utcnow()
        with self._lock:
            state = self._assignment(dataset)
            ids = state.pick(annotator, int(limit), {int(i) for i in exclude}, now)
            ids = self._within_lease_cap(annotator, ids, now)
            expires = now + timedelta(seconds=self.lease_seconds)
            state.lease(ids, annotator, expires)  # held in memory at once, so nobody else is given them
        # Outside the lock, so that concurrent callers queue up and share one commit.
        self._persist_leases(ids, annotator, expires)
        return self.get_records(ids)

    def _within_lease_cap(self, annotator: str, ids: list[int], now: datetime) -> list[int]:
        """The picked records the annotator may hold: those they hold already, and new ones up to
        the cap on live leases per annotator (all datasets together)."""
        held: set[int] = set()
        for state in self._assignments.values():
            held |= state.live_leases_of(annotator, now)
        room = self.max_leases_per_annotator - len(held)
        kept = []
        for record_id in ids:
            if record_id in held or room > 0:
                room -= record_id not in held
                kept.append(record_id)
        if ids and not kept:
            raise InvalidInputError(
                f"{annotator} already holds {len(held)} records, the most one annotator may hold at once; "
                "answer, skip or release some first"
            )
        return kept

    def _persist_leases(self, record_ids: Sequence[int], annotator: str, expires: datetime) -> None:
        if not record_ids:
            return
        ids = [int(i) for i in record_ids]

        def write(con: duckdb.DuckDBPyConnection) -> None:
            # Written through so that a restarted service still honours them. Append only (the
            # latest expiry wins when loading): a lease write is the most frequent write there is.
            con.execute(
                "INSERT INTO leases SELECT unnest($ids::BIGINT[]), $who, $expires",
                {"ids": ids, "who": annotator, "expires": expires},
            ).fetchall()

        self._commit.run(write)

    def renew_lease(self, record_id: int, annotator: str) -> None:
        """Extend the annotator's lease on a record handed to them (and not released, answered or
        skipped since); any other record is refused."""
        expires = utcnow() + timedelta(seconds=self.lease_seconds)
        with self._lock:
            state, _ = self._assignment_of_record(record_id)
            if not state.holds(record_id, annotator):
                raise PermissionDeniedError(
                    f"record {record_id} is not leased to {annotator}, so there is no lease to renew "
                    "(records are handed out by next_records)"
                )
            state.lease([record_id], annotator, expires)
        self._persist_leases([record_id], annotator, expires)

    def release_lease(self, record_id: int, annotator: str) -> None:
        with self._lock:
            state, _ = self._assignment_of_record(record_id)
            state.release(record_id, annotator)
        self._commit.run(
            lambda con: con.execute(
                "DELETE FROM leases WHERE record_id = ? AND annotator = ?", [record_id, annotator]
            ).fetchall()
        )

    def skip_record(self, record_id: int, annotator: str) -> None:
        """The annotator passes on a record for now: it comes back to them after the others
        (also after a restart), and others may take it at once."""
        now = utcnow()
        with self._lock:
            state, _ = self._assignment_of_record(record_id)
            state.release(record_id, annotator)
            state.skipped.setdefault(annotator, set()).add(record_id)
            dataset_id = state.dataset_id

        def write(con: duckdb.DuckDBPyConnection) -> None:
            con.execute("DELETE FROM leases WHERE record_id = ? AND annotator = ?", [record_id, annotator]).fetchall()
            con.execute("DELETE FROM skips WHERE record_id = ? AND annotator = ?", [record_id, annotator]).fetchall()
            con.execute("INSERT INTO skips VALUES (?, ?, ?, ?)", [record_id, dataset_id, annotator, now]).fetchall()

        self._commit.run(write)

    def release_all_leases(self, annotator: str) -> None:
        with self._lock:
            for state in self._assignments.values():
                state.release_all(annotator)
        self._commit.run(lambda con: con.execute("DELETE FROM leases WHERE annotator = ?", [annotator]).fetchall())

    # -- annotations -----------------------------------------------------------
    _ANNOTATION_COLUMNS = (
        "id, record_id, annotator, status, ranks, shown_order, comment, discard_reason, "
        "both_bad, seconds_spent, created_at, updated_at, revision, ratings, written, written_rank"
    )
    # Every column of annotations, in the order annotation_history holds them (before replaced_at).
    _HISTORY_COLUMNS = (
        "id, record_id, dataset_id, annotator, status, ranks, shown_order, comment, discard_reason, both_bad, "
        "seconds_spent, created_at, updated_at, revision, client_id, ratings, written, written_rank"
    )
    _HISTORY_TARGET = _HISTORY_COLUMNS.replace("id, record_id", "annotation_id, record_id", 1) + ", replaced_at"

    @staticmethod
    def _annotation_from_row(row: tuple[Any, ...]) -> Annotation:
        (aid, rid, who, status, ranks, shown, comment, reason, both_bad, secs, created, updated, rev) = row[:13]
        ratings, written, written_rank = row[13:16]
        return Annotation(
            aid,
            rid,
            who,
            status,
            tuple(ranks),
            tuple(shown),
            comment,
            reason,
            both_bad,
            secs,
            created,
            updated,
            rev,
            tuple((int(r["idx"]), str(r["axis"]), float(r["value"])) for r in ratings or ()),
            written,
            written_rank,
        )

    def get_annotation(self, record_id: int, annotator: str) -> Annotation | None:
        with self._lock:
            row = first_row(
                self._q(
                    f"SELECT {self._ANNOTATION_COLUMNS} FROM annotations WHERE record_id = ? AND annotator = ?",
                    [record_id, annotator],
                )
            )
        return self._annotation_from_row(row) if row else None

    def annotation_history(
        self, record_id: int, annotator: str, offset: int = 0, limit: int | None = None
    ) -> list[Annotation]:
        """Earlier revisions of an annotation, oldest first; `offset`/`limit` page through them."""
        with self._lock:
            rows = self._q(
                f"SELECT {self._ANNOTATION_COLUMNS.replace('id, record_id', 'annotation_id, record_id', 1)} "
                "FROM annotation_history WHERE record_id = ? AND annotator = ? ORDER BY revision, replaced_at "
                "LIMIT ? OFFSET ?",
                [record_id, annotator, _page(limit), offset],
            ).fetchall()
        return [self._annotation_from_row(r) for r in rows]

    def save_annotation(self, answer: AnnotationInput, now: datetime | None = None) -> Annotation:
        """Create or amend the annotator's answer for a record. The previous revision
        goes to history. A resend with the same client id changes nothing."""
        return self._save_annotation(answer, now or utcnow(), False, None)

    def save_handed_annotation(
        self, answer: AnnotationInput, before_amending: Callable[[str], None] | None = None
    ) -> Annotation:
        """save_annotation for the service: a new answer only on a record handed to the annotator
        (or skipped by them and still open to them), at most MAX_REVISIONS_PER_ANSWER revisions;
        `before_amending(annotator)` is called before an existing answer is amended and may refuse
        it (a rate limit)."""
        return self._save_annotation(answer, utcnow(), True, before_amending)

    def _save_annotation(
        self,
        answer: AnnotationInput,
        now: datetime,
        handed_only: bool,
        before_amending: Callable[[str], None] | None,
    ) -> Annotation:
        with self._lock:
            state, pos = self._assignment_of_record(answer.record_id)
            n = state.n_candidates[pos]
            check_answer(answer, n, state.task, state.settings)
            if handed_only or before_amending is not None:
                self._check_may_save(state, answer, now, handed_only, before_amending)
        ranks = list(answer.ranks) if answer.ranks else [0] * n
        shown = list(answer.shown_order) or list(range(n))
        ratings = [{"idx": i, "axis": axis, "value": float(v)} for i, axis, v in answer.ratings]
        written_rank = (answer.written_rank or 1) if answer.written is not None else None
        fields = [
            answer.comment,
            answer.discard_reason,
            answer.both_bad,
            float(answer.seconds_spent),
            answer.client_id,
            ratings,
            answer.written,
            written_rank,
        ]

        def write(con: duckdb.DuckDBPyConnection) -> tuple[str | None, Annotation] | None:
            # Runs under the store lock. This process is the only writer, so memory knows
            # whether an answer exists; it is updated here and rebuilt if the batch rolls back.
            state, _ = self._assignment_of_record(answer.record_id)
            may_exist = answer.record_id in state.done.get(answer.annotator, ()) or (
                answer.record_id in state.drafts.get(answer.annotator, ())
            )
            existing = may_exist and first_row(
                con.execute(
                    "SELECT id, status, revision, created_at FROM annotations WHERE record_id = ? AND annotator = ?",
                    [answer.record_id, answer.annotator],
                )
            )
            if existing and answer.client_id and self._client_id_seen(con, existing[0], answer.client_id):
                return None  # a resend of something already stored
            if existing:
                annotation_id, old_status, revision, created = existing
                con.execute(
                    f"INSERT INTO annotation_history ({self._HISTORY_TARGET}) "
                    f"SELECT {self._HISTORY_COLUMNS}, ? FROM annotations WHERE id = ?",
                    [now, annotation_id],
                ).fetchall()
                con.execute(
                    """
                    UPDATE annotations SET status = ?, ranks = ?, shown_order = ?, comment = ?, discard_reason = ?,
                           both_bad = ?, seconds_spent = ?, client_id = ?, ratings = ?, written = ?,
                           written_rank = ?, updated_at = ?, revision = ?
                    WHERE id = ?
                    """,
                    [answer.status, ranks, shown, *fields, now, revision + 1, annotation_id],
                ).fetchall()
                revision += 1
            else:
                old_status, revision, created = None, 1, now
                annotation_id = con.execute(
                    """
                    INSERT INTO annotations (status, ranks, shown_order, comment, discard_reason, both_bad,
                           seconds_spent, client_id, ratings, written, written_rank, updated_at, record_id,
                           dataset_id, annotator, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
                    """,
                    [
                        answer.status,
                        ranks,
                        shown,
                        *fields,
                        now,
                        answer.record_id,
                        state.dataset_id,
                        answer.annotator,
                        now,
                    ],
                ).fetchall()[0][0]
            # The annotator's lease row on an answered record is ignored when leases are loaded.
            state.record_answer(answer.record_id, answer.annotator, old_status, answer.status)
            return old_status, Annotation(
                annotation_id,
                answer.record_id,
                answer.annotator,
                answer.status,
                tuple(ranks),
                tuple(shown),
                answer.comment,
                answer.discard_reason,
                answer.both_bad,
                float(answer.seconds_spent),
                created,
                now,
                revision,
                tuple((int(i), str(axis), float(v)) for i, axis, v in answer.ratings),
                answer.written,
                written_rank,
            )

        result = self._commit.run(write)
        if result is None:
            stored = self.get_annotation(answer.record_id, answer.annotator)
            if stored is None:
                raise StoreError(f"the answer to record {answer.record_id} by {answer.annotator!r} is not stored")
            return stored
        return result[1]

    def _check_may_save(
        self,
        state: DatasetAssignment,
        answer: AnnotationInput,
        now: datetime,
        handed_only: bool,
        before_amending: Callable[[str], None] | None,
    ) -> None:
        """Refuse, before anything is written, an answer the annotator was not asked for and an
        amendment over the limits. Checked from memory (and the amended answer's revision)."""
        record_id, who = answer.record_id, answer.annotator
        if record_id in state.done.get(who, ()) or record_id in state.drafts.get(who, ()):
            row = first_row(
                self._q(
                    "SELECT revision, client_id FROM annotations WHERE record_id = ? AND annotator = ?",
                    [record_id, who],
                )
            )
            if row is not None and answer.client_id and row[1] == answer.client_id:
                return  # a resend of what is stored: it changes nothing
            if row is not None and row[0] >= MAX_REVISIONS_PER_ANSWER:
                raise InvalidInputError(
                    f"your answer to record {record_id} has been saved {row[0]} times, the most one answer may be; "
                    "nothing was saved"
                )
            if before_amending is not None:
                before_amending(who)
            return
        if not handed_only or state.holds(record_id, who):
            return
        if record_id in state.skipped.get(who, ()) and state.open_to(record_id, who, now):
            return
        raise PermissionDeniedError(
            f"record {record_id} was not handed to you, so it takes no answer from you "
            "(records are handed out by next_records); nothing was saved"
        )

    @staticmethod
    def _client_id_seen(con: duckdb.DuckDBPyConnection, annotation_id: int, client_id: str) -> bool:
        return bool(
            con.execute(
                "SELECT 1 FROM annotations WHERE id = $id AND client_id = $c "
                "UNION ALL SELECT 1 FROM annotation_history WHERE annotation_id = $id AND client_id = $c",
                {"id": annotation_id, "c": client_id},
            ).fetchall()
        )

    def answered_record_ids(self, dataset: str, annotator: str, limit: int = 100) -> list[int]:
        """The annotator's submitted or discarded records, most recently saved first (for going back)."""
        with self._lock:
            dataset_id = self._dataset_id(dataset)
            rows = self._q(
                "SELECT record_id FROM annotations WHERE dataset_id = ? AND annotator = ? "
                "AND status IN ('submitted', 'discarded') ORDER BY updated_at DESC, id DESC LIMIT ?",
                [dataset_id, annotator, limit],
            ).fetchall()
        return [r[0] for r in rows]

    # -- progress and statistics ---------------------------------------------
    def progress(self, dataset: str, annotator: str) -> AnnotatorProgress:
        with self._lock:
            dataset_id, _, _, _, k, _, _ = self._dataset_row(dataset)
            mine = dict(
                self._q(
                    "SELECT status, count(*) FROM annotations WHERE dataset_id = ? AND annotator = ? GROUP BY status",
                    [dataset_id, annotator],
                ).fetchall()
            )
            records, complete, open_for_me = self._q(
                """
                WITH subs AS (
                    SELECT record_id, count(*) FILTER (WHERE status = 'submitted') AS n,
                           bool_or(annotator = $who AND status IN ('submitted', 'discarded')) AS mine
                    FROM annotations WHERE dataset_id = $d GROUP BY record_id
                )
                SELECT count(*), count(*) FILTER (WHERE coalesce(s.n, 0) >= $k),
                       count(*) FILTER (WHERE coalesce(s.n, 0) < $k AND NOT coalesce(s.mine, false))
                FROM records r LEFT JOIN subs s ON s.record_id = r.id
                WHERE r.dataset_id = $d
                """,
                {"who": annotator, "d": dataset_id, "k": k},
            ).fetchall()[0]
        return AnnotatorProgress(
            annotator,
            int(mine.get("submitted", 0)),
            int(mine.get("discarded", 0)),
            int(records),
            int(complete),
            int(open_for_me),
        )

    def overfilled_records(self, dataset: str) -> int:
        """Records with more than K submissions: only possible when a lease expired while its
        holder was still working and someone else took the record meanwhile."""
        with self._lock:
            dataset_id, _, _, _, k, _, _ = self._dataset_row(dataset)
            return self._q(
                "SELECT count(*) FROM (SELECT record_id FROM annotations WHERE dataset_id = ? AND status = 'submitted' "
                "GROUP BY record_id HAVING count(*) > ?)",
                [dataset_id, k],
            ).fetchall()[0][0]

    def status_counts(self, dataset: str) -> list[StatusCount]:
        with self._lock:
            dataset_id = self._dataset_id(dataset)
            rows = self._q(
                "SELECT annotator, status, count(*) FROM annotations WHERE dataset_id = ? "
                "GROUP BY ALL ORDER BY annotator, status",
                [dataset_id],
            ).fetchall()
        return [StatusCount(a, s, int(n)) for a, s, n in rows]

    def promote_written(self, dataset: str, seed: int | None = None) -> int:
        """Add every submitted written answer of the dataset to its record's candidates (source
        'written:ANNOTATOR'), so other annotators see it as a normal candidate. Needs the dataset
        setting show_written. Records already at 9 candidates, and texts already among a record's
        candidates, are left as they are. Returns how many candidates were added.

        The answers of one record are appended in a shuffled order (by `seed`, a fresh random one
        by default), never in their authors' name order, which would tell who wrote which."""
        if seed is None:
            seed = secrets.randbits(63)
        with self._lock:
            dataset_id, _, _, _, _, settings, _ = self._dataset_row(dataset)
            if not json.loads(settings or "{}").get("show_written"):
                raise InvalidInputError(
                    f"{dataset!r} keeps written answers to their authors; set show_written first "
                    "(rlhf-tui settings --show-written)"
                )
            with transaction(self._live()):
                added = self._q(
                    """
                    INSERT INTO candidates
                    SELECT record_id, (n_candidates + pos - 1)::SMALLINT, written, 'written:' || annotator
                    FROM (
                        SELECT *, row_number() OVER (
                            PARTITION BY record_id ORDER BY hash(annotator, record_id, ?::UBIGINT), annotator
                        ) AS pos FROM (
                            SELECT a.record_id, a.annotator, a.written, r.n_candidates
                            FROM annotations a JOIN records r ON r.id = a.record_id
                            WHERE a.dataset_id = ? AND a.status = 'submitted' AND a.written IS NOT NULL
                              AND trim(a.written) <> ''
                              AND NOT EXISTS (
                                  SELECT 1 FROM candidates c WHERE c.record_id = a.record_id AND c.text = a.written
                              )
                            QUALIFY row_number() OVER (PARTITION BY a.record_id, a.written ORDER BY a.annotator) = 1
                        )
                    )
                    WHERE n_candidates + pos <= ?
                    """,
                    [seed, dataset_id, MAX_CANDIDATES],
                ).fetchall()[0][0]
                self._q(
                    "UPDATE records SET n_candidates = c.n FROM (SELECT record_id, count(*) AS n FROM candidates "
                    "GROUP BY record_id) c WHERE records.id = c.record_id AND records.dataset_id = ?",
                    [dataset_id],
                )
            self._forget(dataset)
            self._record_cache.clear()
        return int(added)

    def submitted_ratings(
        self, dataset: str, offset: int = 0, limit: int | None = None
    ) -> list[tuple[int, str, tuple[tuple[int, str, float], ...]]]:
        """(record_id, annotator, ratings) of every submitted answer with ratings."""
        with self._lock:
            dataset_id = self._dataset_id(dataset)
            rows = self._q(
                "SELECT record_id, annotator, ratings FROM annotations WHERE dataset_id = ? AND status = 'submitted' "
                "AND len(coalesce(ratings, [])) > 0 ORDER BY record_id, annotator LIMIT ? OFFSET ?",
                [dataset_id, _page(limit), offset],
            ).fetchall()
        return [(r, a, tuple((int(x["idx"]), str(x["axis"]), float(x["value"])) for x in k)) for r, a, k in rows]

    # -- review and the team (admins) -------------------------------------------
    def review_queue(
        self,
        dataset: str,
        order: str = "disputed",
        annotator: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[ReviewItem]:
        """Records with two or more answers, most disputed first (or one annotator's, or commented, or
        where the reward model disagrees with the annotators first: store.db.model_review)."""
        with self._lock:
            dataset_id, _, _, _, _, settings, _ = self._dataset_row(dataset)
            if order == "model-disagrees":
                parsed = json.loads(settings or "{}")
                return model_review.model_disagrees_queue(self.connection, dataset_id, parsed, offset, _page(limit))
            return review_queries.review_queue(self.connection, dataset_id, order, annotator, offset, _page(limit))

    def record_answers(self, record_id: int) -> list[Annotation]:
        """Every annotator's submitted or discarded answer on a record, by annotator."""
        with self._lock:
            rows = self._q(
                f"SELECT {self._ANNOTATION_COLUMNS} FROM annotations WHERE record_id = ? "
                "AND status IN ('submitted', 'discarded') ORDER BY annotator",
                [record_id],
            ).fetchall()
        return [self._annotation_from_row(r) for r in rows]

    def get_review(self, record_id: int) -> Review | None:
        with self._lock:
            return review_queries.get_review(self.connection, record_id)

    def review_history(self, record_id: int) -> list[Review]:
        with self._lock:
            return review_queries.review_history(self.connection, record_id)

    def save_review(self, review: ReviewInput) -> Review:
        """Set (or amend) a record's final answer. `accepted_from` with no ranks takes that
        annotator's submitted answer as it is."""
        with self._lock:
            state, pos = self._assignment_of_record(review.record_id)
            if review.accepted_from and not review.ranks:
                taken = self.get_annotation(review.record_id, review.accepted_from)
                if taken is None or taken.status != "submitted":
                    raise InvalidInputError(
                        f"{review.accepted_from} has no submitted answer on record {review.record_id} to accept"
                    )
                review = dataclasses.replace(review, ranks=taken.ranks, both_bad=taken.both_bad)
            check_answer(
                AnnotationInput(review.record_id, review.reviewer, "submitted", review.ranks, both_bad=review.both_bad),
                state.n_candidates[pos],
                state.task,
            )
            if len(review.note) > MAX_COMMENT_CHARS:
                raise InvalidInputError(f"a review note is at most {MAX_COMMENT_CHARS:,} characters")
            dataset_id = state.dataset_id
        return self._commit.run(lambda con: review_queries.save_review(con, dataset_id, review, utcnow()))

    def reviews(self, dataset: str) -> list[tuple[int, tuple[int, ...], bool, bool]]:
        """(record_id, ranks, both_bad, gold) of every review in the dataset."""
        with self._lock:
            return review_queries.reviews_of(self.connection, self._dataset_id(dataset))

    def active_leases(self, dataset: str) -> list[LeaseInfo]:
        with self._lock:
            dataset_id = self._dataset_id(dataset)
            return review_queries.active_leases(self.connection, dataset_id, utcnow(), self.lease_seconds)

    def team_activity(self, dataset: str) -> list[AnnotatorActivity]:
        """Per annotator: totals, drafts pending, today's submissions and pace, records held now."""
        now = utcnow()
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        with self._lock:
            dataset_id = self._dataset_id(dataset)
            leases = review_queries.active_leases(self.connection, dataset_id, now, self.lease_seconds)
            return review_queries.team_activity(self.connection, dataset_id, today, leases)

    def release_leases_of(self, dataset: str, annotator: str) -> int:
        """An admin frees every record `annotator` holds in the dataset; returns how many."""
        with self._lock:
            state = self._assignment(dataset)
            held = [rid for rid, who in state.leases.items() if annotator in who]
            for record_id in held:
                state.release(record_id, annotator)
        if held:
            self._commit.run(
                lambda con: con.execute(
                    "DELETE FROM leases WHERE annotator = ? AND list_contains(?, record_id)", [annotator, held]
                ).fetchall()
            )
        return len(held)

    def reopen_record(self, record_id: int, annotator: str) -> None:
        """An admin sends a record back to one annotator: their answer goes to history and the
        record is theirs to answer again."""
        now = utcnow()

        def write(con: duckdb.DuckDBPyConnection) -> None:
            state, _ = self._assignment_of_record(record_id)
            row = first_row(
                con.execute(
                    "SELECT id, status FROM annotations WHERE record_id = ? AND annotator = ?", [record_id, annotator]
                )
            )
            if row is None:
                raise InvalidInputError(f"{annotator} has no answer on record {record_id} to reopen")
            annotation_id, old_status = row
            con.execute(
                f"INSERT INTO annotation_history ({self._HISTORY_TARGET}) "
                f"SELECT {self._HISTORY_COLUMNS}, ? FROM annotations WHERE id = ?",
                [now, annotation_id],
            ).fetchall()
            con.execute("DELETE FROM annotations WHERE id = ?", [annotation_id]).fetchall()
            con.execute("DELETE FROM skips WHERE record_id = ? AND annotator = ?", [record_id, annotator]).fetchall()
            state.forget_answer(record_id, annotator, old_status)

        self._commit.run(write)

    def find_record(self, dataset: str, external_id: str) -> int | None:
        """The record id of the dataset's record with that external id, if any."""
        with self._lock:
            return review_queries.find_record(self.connection, self._dataset_id(dataset), external_id)

    def external_ids(self, record_ids: Sequence[int]) -> dict[int, str]:
        with self._lock:
            return review_queries.external_ids(self.connection, [int(i) for i in record_ids])

    def submission_counts(self, record_ids: Sequence[int]) -> list[int]:
        """Submitted answers per record (from memory), in the order asked."""
        with self._lock:
            out = []
            for record_id in record_ids:
                state, _ = self._assignment_of_record(int(record_id))
                out.append(state.submissions(int(record_id)))
            return out

    # -- scores (reward model) ---------------------------------------------
    def save_scores(self, scorer: str, scores: Sequence[tuple[int, int, float]], reorder: bool = True) -> int:
        """Store (record_id, candidate index, score) triples under `scorer`, replacing earlier ones.
        Then the queues of `uncertain` datasets these scores may touch are ordered anew, unless
        `reorder` is false (a client sending many pages asks for it with the last one only)."""
        import pyarrow as pa

        # One score per candidate: a repeated (record, index) keeps its last score.
        latest = {(int(r), int(i)): float(v) for r, i, v in scores}
        table = pa.table(
            {
                "record_id": pa.array([k[0] for k in latest], pa.int64()),
                "idx": pa.array([k[1] for k in latest], pa.int16()),
                "score": pa.array(list(latest.values()), pa.float64()),
            }
        )
        with self._lock:
            self.connection.register("incoming_scores", table)
            try:
                self._check_scored_candidates_exist()
                with transaction(self._live()):
                    self._q(
                        "DELETE FROM candidate_scores WHERE scorer = ? AND (record_id, idx) IN "
                        "(SELECT (record_id, idx) FROM incoming_scores)",
                        [scorer],
                    )
                    self._q(
                        "INSERT INTO candidate_scores SELECT record_id, idx, ?, score, ? FROM incoming_scores",
                        [scorer, utcnow()],
                    )
            finally:
                self.connection.unregister("incoming_scores")
            if reorder and scores:
                self._reorder_after_scoring(scorer, min(s[0] for s in scores), max(s[0] for s in scores))
        return len(scores)

    def _reorder_after_scoring(self, scorer: str, lowest: int, highest: int) -> None:
        """Order anew the loaded `uncertain` queues whose records overlap the scored id range and
        that `scorer` orders (or may order now, being the latest). Unloaded ones are ordered when loaded."""
        for state in self._assignments.values():
            if state.strategy != "uncertain" or not state.ids or highest < state.ids[0] or lowest > state.ids[-1]:
                continue
            chosen = state.settings.get("scorers")
            if chosen and scorer not in chosen:
                continue
            self._order_queue(state)

    def dataset_scorers(self, dataset: str) -> list[str]:
        """The scorers that scored the dataset, the latest first."""
        with self._lock:
            return model_review.dataset_scorers(self.connection, self._dataset_id(dataset))

    def record_scores(self, record_id: int) -> list[tuple[str, int, float]]:
        """(scorer, candidate index, score) of one record, for the reviewer (never for annotators)."""
        with self._lock:
            rows = self._q(
                "SELECT scorer, idx, max(score) FROM candidate_scores WHERE record_id = ? "
                "GROUP BY ALL ORDER BY max(scored_at) DESC, scorer, idx",
                [record_id],
            ).fetchall()
        return [(str(s), int(i), float(v)) for s, i, v in rows]

    def model_after_submit(self, record_id: int, annotator: str) -> list[tuple[str, int, float]]:
        """The record's scores for an annotator who submitted it, where the dataset shows them the
        model's answer after they answer (`model_after_submit`); refused otherwise (anchoring)."""
        with self._lock:
            state, _ = self._assignment_of_record(record_id)
            if not state.settings.get("model_after_submit"):
                raise PermissionDeniedError(
                    "this dataset does not show the reward model's answer to annotators "
                    "(rlhf-tui settings --model-after-submit)"
                )
            answer = self.get_annotation(record_id, annotator)
            if answer is None or answer.status != "submitted":
                raise PermissionDeniedError(f"the model's answer on record {record_id} is shown once you submit yours")
            return self.record_scores(record_id)

    def queue_info(self, dataset: str) -> QueueInfo:
        """The dataset's strategy and, for `uncertain`, which scorers order its queue and when they last scored."""
        with self._lock:
            _, _, _, _, k, settings, _ = self._dataset_row(dataset)
            strategy, _ = assignment_of(json.loads(settings or "{}"), k)
            if strategy != "uncertain":  # no need to load the queue to say so
                return QueueInfo(dataset, strategy, (), 0, None)
            state = self._assignment(dataset)
            order = state.order
            scorers = order.scorers if order is not None else ()
            return QueueInfo(
                dataset,
                state.strategy,
                scorers,
                order.scored if order is not None else 0,
                uncertainty.last_scored(self.connection, state.dataset_id, scorers),
            )

    def _check_scored_candidates_exist(self) -> None:
        """Scores only for candidates the store holds: a score for anything else would be kept
        for ever and attach to whichever record later gets that id."""
        unknown = first_row(
            self._q(
                "SELECT i.record_id, i.idx, r.id IS NOT NULL FROM incoming_scores i "
                "LEFT JOIN records r ON r.id = i.record_id "
                "WHERE NOT EXISTS (SELECT 1 FROM candidates c WHERE c.record_id = i.record_id AND c.idx = i.idx) "
                "ORDER BY i.record_id, i.idx LIMIT 1"
            )
        )
        if unknown is not None:
            record_id, idx, record_known = unknown
            what = f"record {record_id} has no candidate {idx}" if record_known else f"no record with id {record_id}"
            raise InvalidInputError(f"scores: {what}; no scores were saved")

    def scores(
        self, dataset: str, scorer: str | None = None, offset: int = 0, limit: int | None = None
    ) -> list[tuple[int, int, str, float]]:
        with self._lock:
            dataset_id = self._dataset_id(dataset)
            rows = self._q(
                "SELECT s.record_id, s.idx, s.scorer, s.score FROM candidate_scores s "
                "JOIN records r ON r.id = s.record_id WHERE r.dataset_id = ? AND (? IS NULL OR s.scorer = ?) "
                "ORDER BY s.record_id, s.idx, s.scorer LIMIT ? OFFSET ?",
                [dataset_id, scorer, scorer, _page(limit), offset],
            ).fetchall()
        return [(int(r), int(i), str(s), float(v)) for r, i, s, v in rows]

    def submitted_rankings(
        self, dataset: str, offset: int = 0, limit: int | None = None
    ) -> list[tuple[int, str, tuple[int, ...], bool]]:
        """(record_id, annotator, ranks by canonical index, both_bad) of every submitted answer."""
        with self._lock:
            dataset_id = self._dataset_id(dataset)
            rows = self._q(
                "SELECT record_id, annotator, ranks, both_bad FROM annotations "
                "WHERE dataset_id = ? AND status = 'submitted' ORDER BY record_id, annotator LIMIT ? OFFSET ?",
                [dataset_id, _page(limit), offset],
            ).fetchall()
        return [(r, a, tuple(k), b) for r, a, k, b in rows]

    # -- used by importer/export (same package) ---------------------------------
    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise StoreError("the store is closed")
        return self._con
