"""The answer to the record on screen (every mode): its comment, the time spent on it,
unsaved changes and the draft timer. Saves run behind in the store worker, so the
next record shows at once; a draft keeps unfinished work (ranks, ratings and the
written answer alike)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from textual.message_pump import MessagePump
from textual.timer import Timer

from rlhf_tui.app.annotate.session import AnnotationSession, Item
from rlhf_tui.app.messages import AnswerSaved
from rlhf_tui.app.store_jobs import StoreJobQueue
from store import Annotation, AnnotationInput, PreferenceStore
from store.service.unsent import UnsentAnswers
from store.types import AnnotationStatus

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Rating = tuple[int, str, float]  # (canonical candidate index, axis, value)


@dataclass(frozen=True)
class AnswerParts:
    """The answer on screen as the store keeps it: ranks by canonical index (rank and pair
    tasks, rate with rank_too), ratings (rate and thumbs), and the annotator's own written
    answer with its rank among the candidates (1 = better than every one)."""

    ranks: tuple[int, ...] = ()
    ratings: tuple[Rating, ...] = ()
    written: str | None = None
    written_rank: int | None = None

    @classmethod
    def of(cls, annotation: Annotation) -> AnswerParts:
        return cls(annotation.ranks, tuple(annotation.ratings), annotation.written, annotation.written_rank)


@dataclass(frozen=True)
class LocalState:
    """Work on a record the annotator left by going back; shown again on return."""

    parts: AnswerParts
    comment: str
    seconds: float


class AnswerController:
    """Keeps the answer on screen and saves it: as a draft while it changes, for good on submit.

    `current_answer` reads the answer on screen (the mode's and the written one) when a
    draft is saved; `owner` is the screen the save results are posted to and whose
    timers delay drafts."""

    def __init__(
        self,
        *,
        store: PreferenceStore,
        jobs: StoreJobQueue,
        owner: MessagePump,
        session: AnnotationSession,
        annotator: str,
        clock: Clock,
        draft_delay_seconds: float,
        current_answer: Callable[[], AnswerParts],
        unsent: UnsentAnswers | None = None,
    ) -> None:
        self.store = store
        self.jobs = jobs
        self.owner = owner
        self.session = session
        self.annotator = annotator
        self.clock = clock
        self.draft_delay_seconds = draft_delay_seconds
        self.current_answer = current_answer
        self.unsent = unsent
        self.comment = ""
        self.dirty = False  # changed since shown or since the last draft save
        self.carried_seconds = 0.0  # spent on the record before it was shown this time
        self.record_started = clock()
        self.draft_timer: Timer | None = None
        self.stash: dict[int, LocalState] = {}

    def begin(self, item: Item) -> AnswerParts | None:
        """Start on the record shown now: its unsaved, drafted or answered comment and time.
        Returns the answer to show again (None: start fresh)."""
        stashed = self.stash.pop(item.record.id, None)
        previous = item.previous
        parts: AnswerParts | None
        if stashed is not None:
            parts, self.comment, self.carried_seconds = stashed.parts, stashed.comment, stashed.seconds
        elif previous is not None:
            parts, self.comment = AnswerParts.of(previous), previous.comment
            self.carried_seconds = previous.seconds_spent
        else:
            parts, self.comment, self.carried_seconds = None, "", 0.0
        self.dirty = False
        self.record_started = self.clock()
        return parts

    def seconds_on_record(self) -> float:
        return self.carried_seconds + max(0.0, self.clock() - self.record_started)

    def answer_for(
        self,
        item: Item,
        status: AnnotationStatus,
        parts: AnswerParts = AnswerParts(),
        both_bad: bool = False,
        discard_reason: str = "",
    ) -> AnnotationInput:
        written = parts.written if parts.written and parts.written.strip() else None
        return AnnotationInput(
            record_id=item.record.id,
            annotator=self.annotator,
            status=status,
            ranks=parts.ranks,
            shown_order=item.shown_order,
            comment=self.comment,
            discard_reason=discard_reason,
            both_bad=both_bad,
            seconds_spent=round(self.seconds_on_record(), 3),
            client_id=str(uuid.uuid4()),
            ratings=parts.ratings,
            written=written,
            written_rank=(parts.written_rank or 1) if written is not None else None,
        )

    def save(self, answer: AnnotationInput, item: Item) -> None:
        """Queue the save; over the service the answer is first kept on this computer, so
        that leaving before the service has it loses nothing."""
        store, unsent = self.store, self.unsent
        kept = None
        if unsent is not None:
            try:
                kept = unsent.keep(answer, item.record.dataset, item.record.external_id)
            except OSError:  # a full or read-only disk must not stop the answer going to the service
                log.warning("could not keep the answer to %s on this computer", item.record.external_id, exc_info=True)

        def send() -> Annotation:
            saved = store.save_annotation(answer)
            if unsent is not None and kept is not None:
                unsent.sent(kept)
            return saved

        self.jobs.submit(self.owner, f"saving the {answer.status} answer", send, lambda _: AnswerSaved())

    def finish(
        self,
        item: Item,
        status: AnnotationStatus,
        parts: AnswerParts = AnswerParts(),
        both_bad: bool = False,
        discard_reason: str = "",
    ) -> None:
        """Save the answer to `item` for good (the draft waiting to be saved is dropped)."""
        self.cancel_draft_timer()
        self.save(self.answer_for(item, status, parts, both_bad, discard_reason), item)

    # -- drafts ------------------------------------------------------------------
    def changed(self) -> None:
        """The annotator changed the answer on screen: keep it as a draft soon."""
        self.dirty = True
        item = self.session.current
        if item is not None and not item.answered:
            self.cancel_draft_timer()
            if self.draft_delay_seconds <= 0:
                self.save_draft()  # 0 means: save every change at once
            else:
                self.draft_timer = self.owner.set_timer(self.draft_delay_seconds, self.save_draft)

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
        self.save(self.answer_for(item, "draft", self.current_answer()), item)

    def save_draft_now(self) -> None:
        """Save the draft without waiting for the timer (leaving the record, quitting)."""
        self.cancel_draft_timer()
        self.save_draft()

    def stash_and_save_draft(self, item: Item) -> None:
        """Leaving `item` to go back: keep its work to show on return, and save the draft.
        Kept even when already saved: `item` still holds the answer it was fetched with."""
        self.cancel_draft_timer()
        self.stash[item.record.id] = LocalState(self.current_answer(), self.comment, self.seconds_on_record())
        self.save_draft()
