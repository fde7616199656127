"""What both annotation modes share: the layout, the record queue, showing a record,
progress. Answering and drafts are in `answering.py`, the keys both modes share in
`shared_keys.py`; rank and pair mode subclass it (`rank.py`, `pair.py`) and add their
keys. Every store call goes to the store worker."""

from __future__ import annotations

import dataclasses

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer

from store import Dataset

from ..config import AppConfig
from ..keymap import ANNOTATE_BINDINGS
from ..messages import (
    AnsweredIdsLoaded,
    AnswerSaved,
    ProgressLoaded,
    RecordsFetched,
    StoreFailed,
)
from ..session import AnnotationSession, Item, load_item
from ..widgets import CandidateGrid, GuidelinesPanel, PromptView, StatusFacts, StatusLine
from .answering import Answering, LocalState
from .shared_keys import SharedKeys

RENEW_LEASES_EVERY_SECONDS = 120


class AnnotateScreen(Answering, SharedKeys, Screen):
    BINDINGS = ANNOTATE_BINDINGS
    CSS_PATH = "../annotate.tcss"
    task_kind = ""  # "rank" or "pair"

    def __init__(self, dataset: Dataset, annotator: str, config: AppConfig, clock) -> None:
        super().__init__()
        self.dataset = dataset
        self.annotator = annotator
        self.config = config
        self.clock = clock
        self.session = AnnotationSession(config.prefetch)
        self.stash: dict[int, LocalState] = {}
        self.comment = ""
        self.dirty = False
        self.expanded = False
        self.carried_seconds = 0.0
        self.record_started = clock()
        self.session_started = clock()
        self.submitted_here = 0
        self.progress = None
        self.progress_in_flight = False
        self.progress_stale = False
        self.progress_outdated = False
        self.submitted_when_progress_asked = 0
        self.draft_timer: Timer | None = None

    # -- layout ----------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="work"):
                yield PromptView(id="prompt")
                yield CandidateGrid(self.config.min_card_width, id="candidates")
            yield GuidelinesPanel(self.dataset.guidelines, id="guidelines")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(PromptView).styles.max_height = f"{self.config.prompt_height_percent}%"
        self.query_one(PromptView).show_message("Loading records…")
        self.jobs.submit(
            self,
            "reading your earlier answers",
            lambda: self.store.answered_record_ids(self.dataset.name, self.annotator),
            AnsweredIdsLoaded,
        )
        self.request_records()
        self.request_progress()
        self.set_interval(1.0, self.tick)
        self.set_interval(RENEW_LEASES_EVERY_SECONDS, self.renew_leases)

    @property
    def store(self):
        return self.app.store

    @property
    def jobs(self):
        return self.app.jobs

    @property
    def ready(self) -> bool:
        """A record is on screen and nothing is loading in its place."""
        return self.session.current is not None and self.session.loading_previous == 0

    def expand_key(self) -> str:
        return self.app.key_for("annotate.expand")

    # -- fetching --------------------------------------------------------------
    def request_records(self) -> None:
        if not self.session.wants_fetch():
            return
        self.session.fetch_in_flight = True
        store, name, who, limit = self.store, self.dataset.name, self.annotator, self.config.prefetch
        exclude = self.session.ids_to_exclude()

        def fetch() -> list[Item]:
            records = store.next_records(name, who, limit=limit, exclude=exclude)
            return [load_item(store, record, who) for record in records]

        self.jobs.submit(self, "fetching records", fetch, lambda items: RecordsFetched(items, limit), tag="fetch")

    async def on_records_fetched(self, message: RecordsFetched) -> None:
        skipped_before = bool(self.session.skipped)
        if self.session.add_fetched(message.items):
            await self.show_item(self.session.show_first_ahead())
        elif self.session.current is None and self.session.exhausted and not self.session.loading_previous:
            await self.show_nothing_left()
        recycled = skipped_before and not self.session.skipped
        if recycled or len(message.items) == message.requested:
            self.request_records()

    def request_progress(self) -> None:
        if self.progress_in_flight:
            self.progress_stale = True
            return
        self.progress_in_flight = True
        self.progress_outdated = False
        self.submitted_when_progress_asked = self.submitted_here
        store, name, who = self.store, self.dataset.name, self.annotator
        self.jobs.submit(self, "reading progress", lambda: store.progress(name, who), ProgressLoaded, tag="progress")

    def on_progress_loaded(self, message: ProgressLoaded) -> None:
        self.progress_in_flight = False
        self.progress = message.progress
        self.refresh_status()
        if self.progress_stale:
            self.progress_stale = False
            self.request_progress()

    def on_answered_ids_loaded(self, message: AnsweredIdsLoaded) -> None:
        self.session.add_earlier_answers(message.record_ids)

    def on_answer_saved(self, message: AnswerSaved) -> None:
        self.progress_outdated = True  # re-read on the next status tick: not once per keypress

    def on_store_failed(self, message: StoreFailed) -> None:
        # The app shows the message; here a failed fetch or read may be retried later.
        if message.tag == "fetch":
            self.session.fetch_in_flight = False
        elif message.tag == "progress":
            self.progress_in_flight = False
        elif message.tag == "previous":
            self.session.loading_previous -= 1

    def renew_leases(self) -> None:
        ids = [item.record.id for item in self.session.ahead]
        if self.session.current is not None and not self.session.current.answered:
            ids.append(self.session.current.record.id)
        store, who = self.store, self.annotator
        if ids:
            self.jobs.submit(self, "renewing leases", lambda: [store.renew_lease(i, who) for i in ids])

    # -- showing a record --------------------------------------------------------
    def card_labels(self, item: Item) -> list[str]:
        raise NotImplementedError

    def restore_answer(self, item: Item, ranks: tuple[int, ...] | None) -> None:
        """Set the mode's state from stored or stashed ranks (None: start fresh)."""
        raise NotImplementedError

    def refresh_marks(self) -> None:
        """Show the mode's state (ranks, choice) on the cards."""
        raise NotImplementedError

    def mode_note(self) -> str:
        return ""

    async def show_item(self, item: Item | None) -> None:
        if item is None:
            await self.show_waiting()
            return
        self.expanded = False
        limit = self.config.preview_chars
        record = item.record
        grid = self.query_one(CandidateGrid)
        if not grid.display:
            grid.display = True
        labels = self.card_labels(item)
        count_changed = len(labels) != len(grid.cards)
        cards = await grid.set_card_count(labels)
        self.query_one(PromptView).show(record, limit, self.expand_key())
        for position, card in enumerate(cards):
            card.show(record.candidates[item.shown_order[position]], limit, self.expand_key())
        stashed = self.stash.pop(record.id, None)
        previous = item.previous
        if stashed is not None:
            self.restore_answer(item, stashed.ranks)
            self.comment, self.carried_seconds = stashed.comment, stashed.seconds
        elif previous is not None:
            self.restore_answer(item, previous.ranks)
            self.comment, self.carried_seconds = previous.comment, previous.seconds_spent
        else:
            self.restore_answer(item, None)
            self.comment, self.carried_seconds = "", 0.0
        self.dirty = False
        self.record_started = self.clock()
        self.refresh_marks()
        if count_changed:
            self.refresh_bindings()  # the footer offers only the numbers on screen; rebuilding it is slow
        self.refresh_status()
        self.call_after_refresh(self.app.record_rendered, record.id)

    async def show_waiting(self) -> None:
        if self.session.exhausted and not self.session.fetch_in_flight:
            await self.show_nothing_left()
            return
        self.query_one(PromptView).show_message("Loading records…")
        self.query_one(CandidateGrid).display = False
        self.refresh_status()

    async def show_nothing_left(self) -> None:
        await self.query_one(CandidateGrid).set_card_count([])
        self.query_one(CandidateGrid).display = False
        self.query_one(PromptView).show_message(
            f"Nothing left for you to annotate in {self.dataset.name!r}. "
            f"Press {self.app.key_for('annotate.back')} to go back and amend an answer, "
            f"or {self.app.key_for('app.quit')} to quit."
        )
        self.refresh_bindings()
        self.refresh_status()
        self.app.record_rendered(None)

    def tick(self) -> None:
        if self.progress_outdated:
            self.request_progress()
        self.refresh_status()

    def refresh_status(self) -> None:
        item = self.session.current
        notes = []
        if item is not None and item.answered:
            notes.append("amending an earlier answer")
        elif item is not None and item.draft is not None:
            notes.append("draft restored")
        if self.comment:
            notes.append("comment added")
        mode = self.mode_note()
        if mode:
            notes.append(mode)
        now = self.clock()
        on_record = (now - self.record_started + self.carried_seconds) if item is not None else 0.0
        progress = self.progress
        if progress is not None:  # count submissions the last progress read has not seen yet
            unseen = self.submitted_here - self.submitted_when_progress_asked
            progress = dataclasses.replace(progress, submitted=progress.submitted + unseen)
        facts = StatusFacts(
            progress,
            self.submitted_here,
            now - self.session_started,
            on_record,
            " · ".join(notes),
            service_lost=self.app.service_lost,
        )
        self.query_one(StatusLine).show(facts)
