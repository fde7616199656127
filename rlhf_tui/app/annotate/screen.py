"""What every annotation mode shares: the layout, the record queue, showing a record,
the shared keys (skip, discard, comment, back to amend, go to a record, guidelines,
prompt, expand) and the annotator's own written answer (`w`, where the dataset takes
them). Rank, pair, rate and thumbs mode subclass it (`rank.py`, `pair.py`, `rate.py`,
`thumbs.py`) and add their keys.

The screen receives its collaborators (`AnnotateContext`): the store and the store
worker's job queue (every store call goes there), and the app it reports to. It owns
the session (where the annotator is), the store calls that feed it (`RecordFeed`),
the answer on screen (`AnswerController`) and the progress on the status line
(`ProgressTracker`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Protocol

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.notifications import SeverityLevel
from textual.screen import Screen

from rlhf_tui.app.annotate.answering import AnswerController, AnswerParts, Clock
from rlhf_tui.app.annotate.model_after_submit import ModelAnswerShown, ask_model_after_submit
from rlhf_tui.app.annotate.progress_tracker import ProgressTracker
from rlhf_tui.app.annotate.record_feed import RecordFeed
from rlhf_tui.app.annotate.record_notices import RecordNotices
from rlhf_tui.app.annotate.session import AnnotationSession, Item
from rlhf_tui.app.annotate.written_answer import WrittenAnswer, WrittenAnswerScreen
from rlhf_tui.app.config import AppConfig
from rlhf_tui.app.keymap import ANNOTATE_BINDINGS, FOOTER_ORDER, FOOTER_PRIORITY, first_key
from rlhf_tui.app.messages import (
    AnsweredIdsLoaded,
    AnswerSaved,
    PreviousLoaded,
    ProgressLoaded,
    RecordFound,
    RecordsFetched,
    StoreFailed,
    SubmissionsCounted,
)
from rlhf_tui.app.safe_text import neutralise
from rlhf_tui.app.screens.text_prompt import TextPromptScreen
from rlhf_tui.app.store_jobs import StoreJobQueue
from rlhf_tui.app.widgets import CandidateGrid, GuidelinesPanel, KeyFooter, PromptView, StatusFacts, StatusLine
from store import Dataset, PreferenceStore
from store.service.unsent import UnsentAnswers
from store.types import AnnotationStatus

RENEW_LEASES_EVERY_SECONDS = 120
# Keys that act on the record on screen: hidden from the footer (and idle) when there is none.
RECORD_ACTIONS = frozenset(
    {
        *("skip", "discard", "comment", "expand", "toggle_prompt", "write", "submit", "clear", "scroll_cards"),
        *("rank", "tie", "decide"),  # rank and pair mode
        *("rate_char", "move_cell", "move_axis", "move_candidate", "thumb", "highlight"),  # rate and thumbs mode
    }
)


class AnnotationHost(Protocol):
    """What the annotate screen asks of the app that shows it."""

    @property
    def service_lost(self) -> bool: ...

    def record_rendered(self, record_id: int | None) -> None: ...


@dataclass(frozen=True)
class AnnotateContext:
    """The collaborators an annotate screen is given."""

    store: PreferenceStore
    jobs: StoreJobQueue
    host: AnnotationHost
    annotator: str
    config: AppConfig
    clock: Clock
    identity: str = ""  # the name answers are recorded under (the service's name for us); default: annotator
    unsent: UnsentAnswers | None = None  # over the service: answers are written here before they are sent


class AnnotateScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [*ANNOTATE_BINDINGS]
    CSS_PATH = "annotate.tcss"
    task_kind = ""  # "rank", "pair", "rate" or "thumbs"

    def __init__(self, dataset: Dataset, context: AnnotateContext) -> None:
        super().__init__()
        self.dataset = dataset
        self.host = context.host
        self.annotator = context.annotator
        self.identity = context.identity or context.annotator
        self.markdown = bool(dataset.settings.get("markdown"))  # the dataset's setting; literal by default
        self.config = context.config
        self.clock = context.clock
        self.session = AnnotationSession(self.config.prefetch)
        self.feed = RecordFeed(
            store=context.store,
            jobs=context.jobs,
            owner=self,
            session=self.session,
            dataset=dataset.name,
            annotator=self.annotator,
            prefetch=self.config.prefetch,
        )
        self.answer = AnswerController(
            store=context.store,
            jobs=context.jobs,
            owner=self,
            session=self.session,
            annotator=self.annotator,
            clock=self.clock,
            draft_delay_seconds=self.config.draft_delay_seconds,
            current_answer=self.current_answer,
            unsent=context.unsent,
        )
        self.progress = ProgressTracker(
            store=context.store, jobs=context.jobs, owner=self, dataset=dataset.name, annotator=self.annotator
        )
        self.expanded = False  # long texts shown in full
        self.session_started = self.clock()
        self.skip_note = ""  # feedback on the skip that led to the record on screen
        self.skipped_here: set[int] = set()  # records skipped in this session (shown with a note when back)
        self.record_keys_offered = False  # whether the footer offers the keys that act on a record
        self.filled_elsewhere = False  # the draft on screen waited while its record filled up elsewhere
        self.takes_written = bool(dataset.settings.get("written_answers"))
        self.written: str | None = None  # the annotator's own answer to the record on screen
        self.written_rank = 1  # its rank among the candidates (1: better than every one)
        store = self.store = context.store
        self.jobs = context.jobs
        # Over the service an annotator finds (`/`) only the records they answered; admins any.
        caller = store.caller()
        self.finds_only_answered = caller.through_service and not caller.admin
        self.record_notices = RecordNotices()

    # -- layout ----------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="work"):
                yield PromptView(max_height_percent=self.config.prompt_height_percent, id="prompt")
                yield CandidateGrid(self.config.min_card_width, id="candidates")
                yield from self.mode_widgets()
            yield GuidelinesPanel(self.dataset.guidelines, id="guidelines")
        yield StatusLine(id="status")
        yield KeyFooter(FOOTER_PRIORITY, FOOTER_ORDER)

    def on_mount(self) -> None:
        prompt = self.query_one(PromptView)
        prompt.toggle_key = self.key_for("annotate.toggle_prompt")
        prompt.show_message("Loading records…")
        self.feed.load_earlier_answers()
        self.feed.request_records()
        self.progress.request()
        self.set_interval(1.0, self.tick)
        self.set_interval(RENEW_LEASES_EVERY_SECONDS, self.feed.renew_leases)

    def ready_item(self) -> Item | None:
        """The record on screen, when nothing is loading in its place (keys act on it)."""
        return self.session.current if self.session.loading_previous == 0 else None

    def key_for(self, binding_id: str) -> str:
        return first_key(binding_id, self.config.keymap)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "write" and not self.takes_written:
            return False
        # With no record on screen (loading, or nothing left) only the keys that need none are offered.
        return self.session.current is not None or action not in RECORD_ACTIONS

    def offer_record_keys(self) -> None:
        """Rebuild the footer when a record appears or goes (rebuilding it is slow: only then)."""
        offered = self.session.current is not None
        if offered != self.record_keys_offered:
            self.record_keys_offered = offered
            self.refresh_bindings()

    # -- the mode (rank, pair, rate, thumbs) -----------------------------------------
    def mode_widgets(self) -> ComposeResult:
        """Widgets of the mode under the candidates (rate mode's sheet)."""
        yield from ()

    def card_labels(self, item: Item) -> list[str]:
        raise NotImplementedError

    def restore_mode(self, item: Item, parts: AnswerParts | None) -> None:
        """Set the mode's state from a stored or stashed answer (None: start fresh)."""
        raise NotImplementedError

    def mode_answer(self) -> AnswerParts:
        """The mode's answer on screen (ranks, ratings; canonical indexes)."""
        raise NotImplementedError

    def refresh_marks(self) -> None:
        """Show the mode's state (ranks, choice, ratings, thumbs) on the cards."""
        raise NotImplementedError

    def mode_note(self) -> str:
        return ""

    def best_position(self) -> int | None:
        """The shown position of the best candidate so far (its text starts a written answer)."""
        return None

    def restore_answer(self, item: Item, parts: AnswerParts | None) -> None:
        self.written = parts.written if parts is not None and self.takes_written else None
        self.written_rank = (parts.written_rank if parts is not None else None) or 1
        self.restore_mode(item, parts)

    def current_answer(self) -> AnswerParts:
        """The answer on screen, the written one with it (saved as the draft)."""
        return dataclasses.replace(self.mode_answer(), written=self.written, written_rank=self.written_rank)

    # -- store results -----------------------------------------------------------
    async def on_records_fetched(self, message: RecordsFetched) -> None:
        skipped_before = bool(self.session.skipped)
        if self.session.add_fetched(message.items):
            await self.show_item(self.session.show_first_ahead())
        elif self.session.current is None and self.session.exhausted and not self.session.loading_previous:
            await self.show_nothing_left()
        recycled = skipped_before and not self.session.skipped
        if recycled or len(message.items) == message.requested:
            self.feed.request_records()

    def on_progress_loaded(self, message: ProgressLoaded) -> None:
        self.progress.loaded(message.progress)
        self.refresh_status()
        self.progress.request_if_stale()

    def on_answered_ids_loaded(self, message: AnsweredIdsLoaded) -> None:
        self.session.add_earlier_answers(message.record_ids)

    def on_answer_saved(self, message: AnswerSaved) -> None:
        self.progress.answer_saved()

    def on_model_answer_shown(self, message: ModelAnswerShown) -> None:
        self.notify(message.text, title="the model's answer", markup=False, timeout=12)

    def on_store_failed(self, message: StoreFailed) -> None:
        # The app shows the message; here a failed fetch or read may be retried later.
        if message.tag == "fetch":
            self.session.fetch_in_flight = False
        elif message.tag == "progress":
            self.progress.failed()
        elif message.tag == "previous":
            self.session.loading_previous -= 1

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """The screen's notices are about the record on screen: taken down when another shows."""
        current = self.session.current
        self.record_notices.show(
            self.app,
            current.record.id if current is not None else None,
            message,
            title=title,
            severity=severity,
            timeout=timeout,
            markup=markup,
        )

    # -- showing a record --------------------------------------------------------
    async def show_item(self, item: Item | None) -> None:
        self.record_notices.record_shown(self.app, item.record.id if item is not None else None)
        if item is None:
            await self.show_waiting()
            return
        self.expanded = False
        self.skip_note = ""
        self.filled_elsewhere = False
        record = item.record
        grid = self.query_one(CandidateGrid)
        if not grid.display:
            grid.display = True
        labels = self.card_labels(item)
        count_changed = len(labels) != len(grid.cards)
        self.restore_answer(item, self.answer.begin(item))
        await grid.set_card_count(labels, written=self.written is not None)
        self.show_texts(item)
        self.refresh_marks()
        if count_changed:
            self.record_keys_offered = True
            self.refresh_bindings()  # the footer offers only the numbers on screen; rebuilding it is slow
        else:
            self.offer_record_keys()
        self.refresh_status()
        if item.draft is not None and not item.answered:
            self.feed.count_submissions(record.id)  # has it filled up elsewhere while the draft waited?
        self.call_after_refresh(self.host.record_rendered, record.id)

    async def show_waiting(self) -> None:
        if self.session.exhausted and not self.session.fetch_in_flight:
            await self.show_nothing_left()
            return
        self.query_one(PromptView).show_message("Loading records…")
        self.query_one(CandidateGrid).display = False
        self.offer_record_keys()
        self.refresh_status()

    async def show_nothing_left(self) -> None:
        await self.query_one(CandidateGrid).set_card_count([])
        self.query_one(CandidateGrid).display = False
        self.query_one(PromptView).show_message(
            f"Nothing left for you to annotate in {self.dataset.name!r}. "
            f"Press {self.key_for('annotate.back')} to go back and amend an answer, "
            f"or {self.key_for('app.quit')} to quit."
        )
        self.record_keys_offered = False
        self.refresh_bindings()
        self.refresh_status()
        self.host.record_rendered(None)

    def tick(self) -> None:
        self.progress.request_if_outdated()
        self.refresh_status()

    def refresh_status(self) -> None:
        item = self.session.current
        notes = []
        if item is not None and item.answered:
            notes.append("amending an earlier answer")
        elif item is not None and item.draft is not None:
            notes.append("draft restored")
        if self.filled_elsewhere:
            notes.append(
                f"filled up elsewhere: submit anyway (an extra answer) or {self.key_for('annotate.discard')} to drop"
            )
        if self.skip_note:
            notes.append(self.skip_note)
        elif item is not None and item.record.id in self.skipped_here and not item.answered:
            notes.append("you skipped this one earlier")
        if self.answer.comment:
            notes.append("comment added")
        mode = self.mode_note()
        if mode:
            notes.append(mode)
        now = self.clock()
        on_record = (now - self.answer.record_started + self.answer.carried_seconds) if item is not None else 0.0
        facts = StatusFacts(
            self.identity,
            self.dataset.name,
            self.progress.shown(),
            self.progress.submitted_here,
            now - self.session_started,
            on_record,
            " · ".join(notes),
            service_lost=self.host.service_lost,
        )
        self.query_one(StatusLine).show(facts)

    # -- answering ---------------------------------------------------------------
    def ranking_changed(self) -> None:
        """The annotator changed the answer on screen: show it, keep it as a draft soon."""
        self.refresh_marks()
        self.refresh_status()
        self.answer.changed()

    async def finish(
        self,
        status: AnnotationStatus,
        parts: AnswerParts = AnswerParts(),
        both_bad: bool = False,
        discard_reason: str = "",
    ) -> None:
        """Save the answer on screen and move on at once (the save runs behind). A discard
        keeps only its reason; a submission takes the written answer with it."""
        item = self.session.current
        if item is None:
            return
        if status != "discarded":
            parts = dataclasses.replace(parts, written=self.written, written_rank=self.written_rank)
        self.answer.finish(item, status, parts, both_bad, discard_reason)
        if status == "submitted" and self.dataset.settings.get("model_after_submit"):  # after, never before
            ask_model_after_submit(
                self, self.store, self.jobs, item.record, item.shown_order, self.card_labels(item), self.annotator
            )
        if status == "submitted" and not item.answered:
            self.progress.count_submission()
        elif status == "discarded" and not item.answered:
            self.progress.count_discard()
        await self.move_on(answered=True)

    async def move_on(self, answered: bool) -> None:
        await self.show_item(self.session.leave_current(answered))
        self.feed.request_records()

    def save_before_quit(self) -> None:
        self.answer.save_draft_now()

    # -- the keys every mode shares ---------------------------------------------------
    async def action_skip(self) -> None:
        item = self.ready_item()
        if item is None:
            return
        self.answer.save_draft_now()
        note = ""
        if not item.answered:
            self.feed.skip(item.record.id)  # kept by the store: it comes back after the others, also next time
            self.skipped_here.add(item.record.id)
            note = f"skipped {neutralise(item.record.external_id, one_line=True)}: it comes back after the others"
        await self.move_on(answered=False)
        self.skip_note = note
        self.refresh_status()

    def action_discard(self) -> None:
        item = self.ready_item()
        if item is None:
            return

        async def discard(reason: str | None) -> None:
            if reason is not None and self.session.current is item:
                await self.finish("discarded", discard_reason=reason)

        self.app.push_screen(
            TextPromptScreen(
                "Discard this record",
                "Why? (optional — enter to discard, esc to keep the record)",
                value=item.previous.discard_reason if item.previous else "",
            ),
            discard,
        )

    def action_comment(self) -> None:
        item = self.ready_item()
        if item is None:
            return

        def set_comment(comment: str | None) -> None:
            if comment is not None and self.session.current is item and comment != self.answer.comment:
                self.answer.comment = comment
                self.ranking_changed()

        self.app.push_screen(
            TextPromptScreen(
                "Comment",
                "Your comment or rationale for this record (saved with the answer):",
                value=self.answer.comment,
            ),
            set_comment,
        )

    def action_back(self) -> None:
        item = self.ready_item()
        if item is not None:
            self.answer.stash_and_save_draft(item)
        record_id = self.session.start_going_back()
        if record_id is None:
            self.notify("Nothing to go back to yet.", markup=False)
            return
        self.feed.load_previous(record_id)

    async def on_previous_loaded(self, message: PreviousLoaded) -> None:
        self.session.previous_loaded(message.item)
        if self.session.loading_previous == 0:
            await self.show_item(self.session.current)

    def action_jump(self) -> None:
        def go(external_id: str | None) -> None:
            if not external_id:
                return
            item = self.ready_item()
            if item is not None:
                self.answer.stash_and_save_draft(item)
            self.session.start_finding()
            self.feed.find(external_id)

        among = " (you find the records you have answered)" if self.finds_only_answered else ""
        self.app.push_screen(TextPromptScreen("Go to a record", f"The record's id from the file, e.g. r17{among}:"), go)

    async def on_record_found(self, message: RecordFound) -> None:
        shown = neutralise(message.external_id, one_line=True)
        if message.item is None:
            self.session.found(None)
            among = " among the records you have answered" if self.finds_only_answered else ""
            self.notify(
                f"No record {shown!r}{among} in {neutralise(self.dataset.name, one_line=True)!r}.",
                markup=False,
                severity="warning",
            )
        elif not self.session.found(message.item):
            self.notify(f"Record {shown!r} is the one on screen.", markup=False)
        if self.session.loading_previous == 0:
            await self.show_item(self.session.current)

    def on_submissions_counted(self, message: SubmissionsCounted) -> None:
        item = self.session.current
        if item is None or item.record.id != message.record_id or item.answered or item.draft is None:
            return
        if message.submissions >= self.dataset.annotators_per_record and not self.filled_elsewhere:
            self.filled_elsewhere = True
            self.refresh_status()
            self.notify(
                "This record has filled up while your draft waited: submit it anyway (counted as an extra answer) "
                f"or {self.key_for('annotate.discard')} to drop it.",
                markup=False,
                severity="warning",
                timeout=10,
            )

    def action_write(self) -> None:
        item = self.ready_item()
        if item is None or not self.takes_written:
            return
        if self.written is not None:
            start = self.written
        else:
            best = self.best_position()
            start = "" if best is None else item.record.candidates[item.shown_order[best]].text

        async def written(answer: WrittenAnswer | None) -> None:
            if answer is None or self.session.current is not item:
                return
            text = answer.text if answer.text.strip() else None
            if (text, answer.rank) == (self.written, self.written_rank):
                return
            self.written, self.written_rank = text, answer.rank
            await self.query_one(CandidateGrid).set_card_count(self.card_labels(item), written=text is not None)
            self.show_texts(item)
            self.ranking_changed()

        self.app.push_screen(
            WrittenAnswerScreen(start, self.written_rank, len(item.shown_order), self.config.keymap), written
        )

    async def action_guidelines(self) -> None:
        await self.query_one(GuidelinesPanel).toggle()

    def action_scroll_cards(self) -> None:
        """Tab (rank and pair mode): the next card or the prompt, which ↑ ↓ pgup pgdn then scroll."""
        self.focus_next()

    def action_toggle_prompt(self) -> None:
        self.query_one(PromptView).toggle_collapsed()  # the grid is resized and fits its cards again

    def action_expand(self) -> None:
        item = self.session.current
        if item is None:
            return
        self.expanded = not self.expanded
        self.show_texts(item)

    def show_texts(self, item: Item) -> None:
        """The prompt and the candidates of the record on screen, then the cards fitted to them."""
        limit = None if self.expanded else self.config.preview_chars
        expand_key = self.key_for("annotate.expand")
        record = item.record
        self.query_one(PromptView).show(record, limit, expand_key, self.markdown, self.expanded)
        grid = self.query_one(CandidateGrid)
        for position, card in enumerate(grid.cards):
            card.show(record.candidates[item.shown_order[position]], limit, expand_key, self.markdown)
        written_card = grid.written_card
        if written_card is not None and self.written is not None:
            written_card.show_written(
                self.written, self.written_rank, len(item.shown_order), self.key_for("annotate.write"), limit
            )
        grid.fit()
