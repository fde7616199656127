"""Answering the record on screen (both modes): the answer saved behind while the next
record shows at once, and drafts of unfinished work. A mixin of `AnnotateScreen`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from store import AnnotationInput

from ..messages import AnswerSaved


@dataclass(frozen=True)
class LocalState:
    """Unsaved work on a record the annotator left by going back; shown again on return."""

    ranks: tuple[int, ...]
    comment: str
    seconds: float


class Answering:
    def seconds_on_record(self) -> float:
        return self.carried_seconds + max(0.0, self.clock() - self.record_started)

    def current_ranks(self) -> tuple[int, ...]:
        raise NotImplementedError

    def save(self, answer: AnnotationInput) -> None:
        store = self.store
        self.jobs.submit(
            self,
            f"saving the {answer.status} answer",
            lambda: store.save_annotation(answer),
            lambda saved: AnswerSaved(saved.record_id, saved.status),
        )

    def answer_for_current(
        self, status: str, ranks: tuple[int, ...] = (), both_bad: bool = False, discard_reason: str = ""
    ) -> AnnotationInput:
        item = self.session.current
        return AnnotationInput(
            record_id=item.record.id,
            annotator=self.annotator,
            status=status,
            ranks=ranks,
            shown_order=item.shown_order,
            comment=self.comment,
            discard_reason=discard_reason,
            both_bad=both_bad,
            seconds_spent=round(self.seconds_on_record(), 3),
            client_id=str(uuid.uuid4()),
        )

    async def finish(
        self, status: str, ranks: tuple[int, ...] = (), both_bad: bool = False, discard_reason: str = ""
    ) -> None:
        """Save the answer on screen and move on at once (the save runs behind)."""
        item = self.session.current
        self.cancel_draft_timer()
        self.save(self.answer_for_current(status, ranks, both_bad, discard_reason))
        if status == "submitted" and not item.answered:
            self.submitted_here += 1
        await self.move_on(answered=True)

    async def move_on(self, answered: bool) -> None:
        await self.show_item(self.session.leave_current(answered))
        self.request_records()

    # -- drafts ------------------------------------------------------------------
    def ranking_changed(self) -> None:
        """The annotator changed the answer on screen: show it, keep it as a draft soon."""
        self.dirty = True
        self.refresh_marks()
        self.refresh_status()
        item = self.session.current
        if item is not None and not item.answered:
            self.cancel_draft_timer()
            if self.config.draft_delay_seconds <= 0:
                self.save_draft()  # 0 means: save every change at once
            else:
                self.draft_timer = self.set_timer(self.config.draft_delay_seconds, self.save_draft)

    def cancel_draft_timer(self) -> None:
        if self.draft_timer is not None:
            self.draft_timer.stop()
            self.draft_timer = None

    def save_draft(self) -> None:
        """Keep unsaved work on the record on screen (never over a submitted answer)."""
        self.draft_timer = None
        item = self.session.current
        if item is None or item.answered or not self.dirty:
            return
        self.dirty = False
        self.save(self.answer_for_current("draft", self.current_ranks()))

    def save_before_quit(self) -> None:
        self.cancel_draft_timer()
        self.save_draft()
