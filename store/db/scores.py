"""The embedded store's reward-model scores: saving them, the `uncertain` queue they order, and the
model's answer for reviewers (and, where a dataset says so, for annotators after they submit)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from store.clock import utcnow
from store.dataset_settings import assignment_of
from store.db import model_review, uncertainty
from store.db.base import _page
from store.db.connection import first_row
from store.db.team import TeamQueries
from store.db.transactions import transaction
from store.errors import InvalidInputError, PermissionDeniedError
from store.types import (
    QueueInfo,
)


class ScoreQueries(TeamQueries):
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
