"""The embedded store's answers: saving them (with the rules of who may answer what, and their
history), reading them back, each annotator's progress, and the counts the statistics read."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

import duckdb

from store.answer_checks import check_answer
from store.clock import utcnow
from store.db.assignment import DatasetAssignment
from store.db.base import MAX_REVISIONS_PER_ANSWER, _page
from store.db.connection import first_row
from store.db.records import RecordQueries
from store.db.transactions import transaction
from store.errors import InvalidInputError, PermissionDeniedError, StoreError
from store.types import (
    MAX_CANDIDATES,
    Annotation,
    AnnotationInput,
    AnnotatorProgress,
    StatusCount,
)


class AnswerQueries(RecordQueries):
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
                            PARTITION BY record_id ORDER BY hash(concat_ws(':', ?::UBIGINT, record_id, annotator)), annotator
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
