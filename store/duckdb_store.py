"""The embedded store: one DuckDB file, one connection, guarded by a lock so that
worker threads can share it. The CLI, the app and the trainers all go through here
(or through the socket client, which offers the same methods)."""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Sequence

import duckdb

from . import export as export_module
from . import importer
from .connection import connect, first_row
from .errors import InvalidInputError, StoreError, UnknownDatasetError
from .migrations import apply_migrations
from .types import (
    TASK_KINDS,
    Annotation,
    AnnotationInput,
    AnnotatorProgress,
    Candidate,
    ChatMessage,
    Dataset,
    DatasetSummary,
    ImportReport,
    Record,
    StatusCount,
)

DEFAULT_LEASE_SECONDS = 300


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _prompt_from_row(text: str | None, messages: list | None):
    if messages is not None:
        return tuple(ChatMessage(m["role"], m["content"]) for m in messages)
    return text or ""


class DuckDBStore:
    """The store interface over a DuckDB file opened in this process."""

    def __init__(self, path: str | os.PathLike, lease_seconds: int = DEFAULT_LEASE_SECONDS):
        self.path = Path(path)
        self.lease_seconds = lease_seconds
        self._lock = threading.RLock()
        self._con = connect(self.path)
        try:
            apply_migrations(self._con, str(self.path))
        except Exception:
            self._con.close()
            raise

    # -- lifecycle ---------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def __enter__(self) -> "DuckDBStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _q(self, sql: str, params: Sequence | dict | None = None) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise StoreError("the store is closed")
        return self._con.execute(sql, params or [])

    # -- datasets ----------------------------------------------------------
    def _dataset_row(self, name: str):
        row = first_row(self._q(
            "SELECT id, name, task, guidelines, annotators_per_record, settings, created_at "
            "FROM datasets WHERE name = ?",
            [name],
        ))
        if row is None:
            known = [r[0] for r in self._q("SELECT name FROM datasets ORDER BY name").fetchall()]
            hint = f" (known: {', '.join(known)})" if known else " (the store has no datasets yet; run `rlhf-tui import`)"
            raise UnknownDatasetError(f"no dataset named {name!r}{hint}")
        return row

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
        if not name.strip():
            raise InvalidInputError("a dataset needs a name")
        with self._lock:
            if self._q("SELECT 1 FROM datasets WHERE name = ?", [name]).fetchall():
                raise InvalidInputError(f"a dataset named {name!r} already exists")
            self._q(
                "INSERT INTO datasets (name, task, guidelines, annotators_per_record, settings, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [name, task, guidelines, annotators_per_record, json.dumps(settings or {}), utcnow()],
            )
        return self.get_dataset(name)

    def update_dataset(
        self, name: str, guidelines: str | None = None, annotators_per_record: int | None = None
    ) -> Dataset:
        with self._lock:
            dataset_id = self._dataset_id(name)
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

    def delete_dataset(self, name: str) -> None:
        with self._lock:
            dataset_id = self._dataset_id(name)
            self._q("BEGIN TRANSACTION")
            try:
                for table in ("leases", "candidates", "candidate_scores"):
                    self._q(
                        f"DELETE FROM {table} WHERE record_id IN (SELECT id FROM records WHERE dataset_id = ?)",
                        [dataset_id],
                    )
                for table in ("annotation_history", "annotations", "records"):
                    self._q(f"DELETE FROM {table} WHERE dataset_id = ?", [dataset_id])
                self._q("DELETE FROM datasets WHERE id = ?", [dataset_id])
                self._q("COMMIT")
            except Exception:
                self._q("ROLLBACK")
                raise

    def list_datasets(self) -> list[DatasetSummary]:
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
                       count(r.id) FILTER (WHERE s.n >= d.annotators_per_record) AS complete
                FROM datasets d
                LEFT JOIN records r ON r.dataset_id = d.id
                LEFT JOIN subs s ON s.record_id = r.id
                GROUP BY d.id, d.name, d.task, d.annotators_per_record
                ORDER BY d.name
                """
            ).fetchall()
        return [DatasetSummary(n, t, k, int(rc), int(sc), int(c)) for n, t, k, rc, sc, c in rows]

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
    ) -> ImportReport:
        with self._lock:
            return importer.import_file(
                self,
                Path(path),
                dataset=dataset,
                task=task,
                fmt=fmt,
                guidelines=guidelines,
                annotators_per_record=annotators_per_record,
                skip_invalid=skip_invalid,
                keep_labels=keep_labels,
            )

    def export(self, dataset: str, fmt: str, out: str | os.PathLike, aggregate: str = "all") -> int:
        with self._lock:
            return export_module.export(self, dataset, fmt, Path(out), aggregate)

    def preference_rows(self, dataset: str, aggregate: str = "all") -> list[dict]:
        """TRL preference rows (prompt, chosen, rejected, record_id, annotator, margin)."""
        with self._lock:
            return export_module.rows(self, dataset, "preference", aggregate)

    def export_rows(self, dataset: str, fmt: str, aggregate: str = "all") -> list[dict]:
        with self._lock:
            return export_module.rows(self, dataset, fmt, aggregate)

    # -- records -------------------------------------------------------------
    def get_records(self, record_ids: Sequence[int]) -> list[Record]:
        """Records with their candidates, in the order of `record_ids`."""
        if not record_ids:
            return []
        ids = [int(i) for i in record_ids]
        with self._lock:
            rows = self._q(
                """
                SELECT r.id, d.name, r.external_id, r.prompt_text, r.prompt_messages, r.metadata,
                       list(struct_pack(idx := c.idx, text := c.text, source := c.source) ORDER BY c.idx)
                FROM records r
                JOIN datasets d ON d.id = r.dataset_id
                JOIN candidates c ON c.record_id = r.id
                WHERE r.id IN (SELECT unnest(?::BIGINT[]))
                GROUP BY ALL
                """,
                [ids],
            ).fetchall()
        by_id = {}
        for rid, dname, ext, text, messages, metadata, cands in rows:
            by_id[rid] = Record(
                id=rid,
                dataset=dname,
                external_id=ext,
                prompt=_prompt_from_row(text, messages),
                candidates=tuple(Candidate(c["idx"], c["text"], c["source"]) for c in cands),
                metadata=json.loads(metadata) if metadata else {},
            )
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise StoreError(f"no record with id {missing[0]}")
        return [by_id[i] for i in ids]

    def get_record(self, record_id: int) -> Record:
        return self.get_records([record_id])[0]

    def record_ids(self, dataset: str) -> list[int]:
        with self._lock:
            dataset_id = self._dataset_id(dataset)
            return [r[0] for r in self._q("SELECT id FROM records WHERE dataset_id = ? ORDER BY id", [dataset_id]).fetchall()]

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
            dataset_id, _, _, _, k, _, _ = self._dataset_row(dataset)
            rows = self._q(
                """
                WITH subs AS (
                    SELECT a.record_id, count(*) FILTER (WHERE a.status = 'submitted') AS n,
                           bool_or(a.annotator = $annotator AND a.status IN ('submitted', 'discarded')) AS mine_done,
                           bool_or(a.annotator = $annotator AND a.status = 'draft') AS mine_draft
                    FROM annotations a WHERE a.dataset_id = $dataset
                    GROUP BY a.record_id
                ),
                held AS (
                    SELECT l.record_id, count(*) AS n FROM leases l
                    WHERE l.annotator <> $annotator AND l.expires_at > $now
                    GROUP BY l.record_id
                )
                SELECT r.id
                FROM records r
                LEFT JOIN subs s ON s.record_id = r.id
                LEFT JOIN held h ON h.record_id = r.id
                WHERE r.dataset_id = $dataset
                  AND NOT coalesce(s.mine_done, false)
                  AND coalesce(s.n, 0) + coalesce(h.n, 0) < $k
                  AND NOT list_contains($exclude, r.id)
                ORDER BY coalesce(s.mine_draft, false) DESC, coalesce(s.n, 0), r.id
                LIMIT $limit
                """,
                {
                    "annotator": annotator,
                    "dataset": dataset_id,
                    "now": now,
                    "k": k,
                    "exclude": [int(i) for i in exclude],
                    "limit": int(limit),
                },
            ).fetchall()
            ids = [r[0] for r in rows]
            self._take_leases(ids, annotator, now)
        return self.get_records(ids)

    def _take_leases(self, record_ids: Sequence[int], annotator: str, now: datetime) -> None:
        if not record_ids:
            return
        expires = now + timedelta(seconds=self.lease_seconds)
        self._q(
            """
            INSERT INTO leases
            SELECT unnest($ids::BIGINT[]), $annotator, $expires
            ON CONFLICT (record_id, annotator) DO UPDATE SET expires_at = excluded.expires_at
            """,
            {"ids": list(record_ids), "annotator": annotator, "expires": expires},
        )

    def renew_lease(self, record_id: int, annotator: str) -> None:
        with self._lock:
            self._take_leases([record_id], annotator, utcnow())

    def release_lease(self, record_id: int, annotator: str) -> None:
        with self._lock:
            self._q("DELETE FROM leases WHERE record_id = ? AND annotator = ?", [record_id, annotator])

    def release_all_leases(self, annotator: str) -> None:
        with self._lock:
            self._q("DELETE FROM leases WHERE annotator = ?", [annotator])

    # -- annotations -----------------------------------------------------------
    _ANNOTATION_COLUMNS = (
        "id, record_id, annotator, status, ranks, shown_order, comment, discard_reason, "
        "both_bad, seconds_spent, created_at, updated_at, revision"
    )

    @staticmethod
    def _annotation_from_row(row) -> Annotation:
        (aid, rid, who, status, ranks, shown, comment, reason, both_bad, secs, created, updated, rev) = row
        return Annotation(
            aid, rid, who, status, tuple(ranks), tuple(shown), comment, reason, both_bad, secs, created, updated, rev
        )

    def get_annotation(self, record_id: int, annotator: str) -> Annotation | None:
        with self._lock:
            row = first_row(self._q(
                f"SELECT {self._ANNOTATION_COLUMNS} FROM annotations WHERE record_id = ? AND annotator = ?",
                [record_id, annotator],
            ))
        return self._annotation_from_row(row) if row else None

    def annotation_history(self, record_id: int, annotator: str) -> list[Annotation]:
        """Earlier revisions of an annotation, oldest first."""
        with self._lock:
            rows = self._q(
                f"SELECT {self._ANNOTATION_COLUMNS.replace('id, record_id', 'annotation_id, record_id', 1)} "
                "FROM annotation_history WHERE record_id = ? AND annotator = ? ORDER BY revision",
                [record_id, annotator],
            ).fetchall()
        return [self._annotation_from_row(r) for r in rows]

    def _validate(self, answer: AnnotationInput, record: Record, task: str) -> None:
        n = len(record.candidates)
        if answer.status not in ("submitted", "discarded", "draft"):
            raise InvalidInputError(f"unknown status {answer.status!r}")
        if answer.shown_order and sorted(answer.shown_order) != list(range(n)):
            raise InvalidInputError(f"shown order must list candidates 0..{n - 1} once each")
        if answer.status == "discarded":
            return
        if len(answer.ranks) != n:
            raise InvalidInputError(f"record {record.id} has {n} candidates but {len(answer.ranks)} ranks were given")
        if any(r < 0 or r > n for r in answer.ranks):
            raise InvalidInputError(f"ranks must be between 1 and {n}")
        if answer.status == "submitted":
            if 0 in answer.ranks:
                raise InvalidInputError("every candidate needs a rank before submitting")
            used = sorted(set(answer.ranks))
            # Ties share a rank; ranks are dense so 1,1,2 and 1,2,2 are the only shapes for three.
            if used != list(range(1, len(used) + 1)):
                raise InvalidInputError(f"ranks must be dense from 1 (got {list(answer.ranks)})")
        if answer.both_bad and task != "pair":
            raise InvalidInputError("'both bad' applies to pair tasks only")

    def save_annotation(self, answer: AnnotationInput, now: datetime | None = None) -> Annotation:
        """Create or amend the annotator's answer for a record. The previous revision
        goes to history. A resend with the same client id changes nothing."""
        now = now or utcnow()
        record = self.get_record(answer.record_id)
        with self._lock:
            dataset_id, _, task, *_ = self._dataset_row(record.dataset)
            self._validate(answer, record, task)
            ranks = list(answer.ranks) if answer.status != "discarded" or answer.ranks else [0] * len(record.candidates)
            shown = list(answer.shown_order) or list(range(len(record.candidates)))
            self._q("BEGIN TRANSACTION")
            try:
                existing = first_row(self._q(
                    "SELECT id, revision, client_id FROM annotations WHERE record_id = ? AND annotator = ?",
                    [answer.record_id, answer.annotator],
                ))
                if existing and answer.client_id and self._client_id_seen(existing[0], answer.client_id):
                    self._q("COMMIT")
                    return self.get_annotation(answer.record_id, answer.annotator)
                values = [
                    answer.status, ranks, shown, answer.comment, answer.discard_reason, answer.both_bad,
                    float(answer.seconds_spent), now, answer.client_id,
                ]
                if existing:
                    self._q(
                        """
                        INSERT INTO annotation_history
                        SELECT id, record_id, dataset_id, annotator, status, ranks, shown_order, comment,
                               discard_reason, both_bad, seconds_spent, created_at, updated_at, revision,
                               client_id, ?
                        FROM annotations WHERE id = ?
                        """,
                        [now, existing[0]],
                    )
                    self._q(
                        """
                        UPDATE annotations SET status = ?, ranks = ?, shown_order = ?, comment = ?,
                               discard_reason = ?, both_bad = ?, seconds_spent = ?, updated_at = ?,
                               client_id = ?, revision = revision + 1
                        WHERE id = ?
                        """,
                        values + [existing[0]],
                    )
                else:
                    self._q(
                        """
                        INSERT INTO annotations (status, ranks, shown_order, comment, discard_reason, both_bad,
                               seconds_spent, updated_at, client_id, record_id, dataset_id, annotator, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                        values + [answer.record_id, dataset_id, answer.annotator, now],
                    )
                if answer.status != "draft":
                    self._q(
                        "DELETE FROM leases WHERE record_id = ? AND annotator = ?",
                        [answer.record_id, answer.annotator],
                    )
                self._q("COMMIT")
            except Exception:
                self._q("ROLLBACK")
                raise
        return self.get_annotation(answer.record_id, answer.annotator)

    def _client_id_seen(self, annotation_id: int, client_id: str) -> bool:
        return bool(
            self._q(
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

    # -- scores (reward model) ---------------------------------------------
    def save_scores(self, scorer: str, scores: Sequence[tuple[int, int, float]]) -> int:
        """Store (record_id, candidate index, score) triples under `scorer`, replacing earlier ones."""
        import pyarrow as pa

        table = pa.table(
            {
                "record_id": pa.array([s[0] for s in scores], pa.int64()),
                "idx": pa.array([s[1] for s in scores], pa.int16()),
                "score": pa.array([float(s[2]) for s in scores], pa.float64()),
            }
        )
        with self._lock:
            self._con.register("incoming_scores", table)
            try:
                self._q("BEGIN TRANSACTION")
                self._q(
                    "DELETE FROM candidate_scores WHERE scorer = ? AND (record_id, idx) IN "
                    "(SELECT (record_id, idx) FROM incoming_scores)",
                    [scorer],
                )
                self._q(
                    "INSERT INTO candidate_scores SELECT record_id, idx, ?, score, ? FROM incoming_scores",
                    [scorer, utcnow()],
                )
                self._q("COMMIT")
            except Exception:
                self._q("ROLLBACK")
                raise
            finally:
                self._con.unregister("incoming_scores")
        return len(scores)

    def scores(self, dataset: str, scorer: str | None = None) -> list[tuple[int, int, str, float]]:
        with self._lock:
            dataset_id = self._dataset_id(dataset)
            return self._q(
                "SELECT s.record_id, s.idx, s.scorer, s.score FROM candidate_scores s "
                "JOIN records r ON r.id = s.record_id WHERE r.dataset_id = ? AND (? IS NULL OR s.scorer = ?) "
                "ORDER BY s.record_id, s.idx",
                [dataset_id, scorer, scorer],
            ).fetchall()

    def submitted_rankings(self, dataset: str) -> list[tuple[int, str, tuple[int, ...], bool]]:
        """(record_id, annotator, ranks by canonical index, both_bad) of every submitted answer."""
        with self._lock:
            dataset_id = self._dataset_id(dataset)
            rows = self._q(
                "SELECT record_id, annotator, ranks, both_bad FROM annotations "
                "WHERE dataset_id = ? AND status = 'submitted' ORDER BY record_id, annotator",
                [dataset_id],
            ).fetchall()
        return [(r, a, tuple(k), b) for r, a, k, b in rows]

    # -- used by importer/export (same package) ---------------------------------
    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise StoreError("the store is closed")
        return self._con


def open_store(path: str | os.PathLike | None = None, **kwargs) -> DuckDBStore:
    """The store file opened in this process (see `connect_store` for the service-aware way)."""
    from .location import resolve_store_path

    return DuckDBStore(resolve_store_path(path), **kwargs)


def connect_store(path: str | os.PathLike | None = None):
    """The running `rlhf-tui serve` for this store if there is one, else the file in-process."""
    from .client import ServiceClient, ServiceUnavailableError
    from .location import resolve_store_path
    from .service import default_socket_path

    store_path = resolve_store_path(path)
    socket_path = default_socket_path(store_path)
    if socket_path.exists():
        try:
            return ServiceClient(socket_path)
        except ServiceUnavailableError:
            pass  # a socket left behind by a service that is gone: the file lock tells the truth
    return DuckDBStore(store_path)
