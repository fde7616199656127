"""The embedded store's team reads and writes for admins: the review queue, every answer of a
record, reviews with their history, who holds what, each annotator's pace, releasing and reopening."""

from __future__ import annotations

import dataclasses
import json

import duckdb

from store.answer_checks import MAX_COMMENT_CHARS, check_answer
from store.clock import utcnow
from store.db import model_review
from store.db import reviews as review_queries
from store.db.answers import AnswerQueries
from store.db.base import _page
from store.db.connection import first_row
from store.errors import InvalidInputError
from store.types import (
    Annotation,
    AnnotationInput,
    AnnotatorActivity,
    LeaseInfo,
    Review,
    ReviewInput,
    ReviewItem,
)


class TeamQueries(AnswerQueries):
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
