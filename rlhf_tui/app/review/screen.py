"""The review screen: one record of the review queue at a time — its prompt, its
candidates once, every annotator's answer side by side — and the reviewer's final answer:
accept one annotator's (a digit selects the row, enter accepts), or give one's own
ranking or choice (r, then the annotate screen's keys), with a note (c) and a gold mark
(g). A record already reviewed is amended the same way; the store keeps the history.

Every store call goes through the store worker (`StoreJobQueue`); the records around the
one on screen are fetched ahead (`ReviewWalk`), so next and previous never wait for it.
A decision is saved behind the reviewer's back and the next record is shown at once.

What a key decides is worked out in `decisions.py` (plain Python), the messages from the
store worker are in `messages.py`, and the status line is a widget (`status_line.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from rlhf_tui.app.annotate.ranking import Ranking
from rlhf_tui.app.messages import StoreFailed
from rlhf_tui.app.review import decisions
from rlhf_tui.app.review.answers_view import (
    answers_table,
    one_line,
    review_text,
    their_order_text,
    written_answers_text,
)
from rlhf_tui.app.review.candidate_panel import CandidatePanel
from rlhf_tui.app.review.decisions import CannotDecide, Draft, Mode
from rlhf_tui.app.review.help import ReviewHelpScreen
from rlhf_tui.app.review.keys import (
    REVIEW_BINDINGS,
    REVIEW_FOOTER_ORDER,
    REVIEW_FOOTER_PRIORITY,
    REVIEW_OWN_BINDINGS,
    REVIEW_PAIR_BINDINGS,
    REVIEW_RANK_BINDINGS,
    review_key,
)
from rlhf_tui.app.review.messages import (
    BundlesLoaded,
    QueuePageLoaded,
    ReviewRecordFound,
    ReviewSaved,
    ReviewStarted,
)
from rlhf_tui.app.review.model_suggestion import ModelSuggestion
from rlhf_tui.app.review.prompt_box import PromptBox
from rlhf_tui.app.review.status_line import ReviewStatusLine
from rlhf_tui.app.review.walk import ReviewBundle, ReviewWalk, find_item, load_bundles
from rlhf_tui.app.safe_text import PREVIEW_CHARS
from rlhf_tui.app.screens.text_prompt import TextPromptScreen
from rlhf_tui.app.store_jobs import StoreJobQueue
from rlhf_tui.app.widgets import KeyFooter
from store import Dataset, PreferenceStore
from store.types import ReviewInput, ReviewItem

NEEDS_RECORD = frozenset({"select_annotator", "accept", "own_answer", "note", "gold", "expand"})
OWN_RANK_ACTIONS = frozenset({"rank", "tie", "clear", "save_ranking"})


class ReviewHost(Protocol):
    """What the review screen asks of the app that shows it."""

    def record_rendered(self, record_id: int | None) -> None: ...

    def quit_when_saved(self) -> None: ...

    def interrupt(self) -> None: ...


@dataclass(frozen=True)
class ReviewContext:
    """The collaborators and choices a review screen is given."""

    store: PreferenceStore
    jobs: StoreJobQueue
    host: ReviewHost
    dataset: str
    reviewer: str  # the name reviews are recorded under (over the service: the service's name for us)
    order: str = "disputed"
    annotator: str | None = None  # with order "annotator": whose records
    keymap: dict[str, str] | None = None
    ahead: int = 5  # records fetched ahead of the one on screen


class ReviewScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        *REVIEW_BINDINGS,
        *REVIEW_RANK_BINDINGS,
        *REVIEW_PAIR_BINDINGS,
        *REVIEW_OWN_BINDINGS,
    ]
    CSS_PATH = "review.tcss"

    def __init__(self, context: ReviewContext) -> None:
        super().__init__()
        self.store = context.store
        self.jobs = context.jobs
        self.host = context.host
        self.dataset_name = context.dataset
        self.reviewer = context.reviewer
        self.order = context.order
        self.annotator = context.annotator
        self.keymap = context.keymap or {}
        self.walk = ReviewWalk(ahead=context.ahead)
        self.dataset: Dataset | None = None
        self.mode: Mode = "choose"
        self.selected: int | None = None  # the annotator row enter accepts
        self.ranking = Ranking(())  # the reviewer's own ranking, in own mode
        self.draft: Draft | None = None
        self.expanded = False
        self.feedback = Text(end="")  # what the last action did, on the status line
        self.saving: set[int] = set()  # records whose review is being saved
        self.shown_record: int | None = None  # the record whose texts are on screen
        self._offered: tuple = ()  # what the footer offers now: rebuilt only when it changes

    # -- layout ------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(Text("Review", end=""), id="review-header")
        yield PromptBox(id="review-prompt")
        yield CandidatePanel(id="review-candidates")
        yield Static(id="review-answers")
        yield ModelSuggestion(id="review-model")  # the reward model's ranking, marked as the model's
        yield Static(id="review-written")
        yield Static(id="review-state")
        yield ReviewStatusLine(id="review-status")
        yield KeyFooter(REVIEW_FOOTER_PRIORITY, REVIEW_FOOTER_ORDER)

    def on_mount(self) -> None:
        self.query_one(PromptBox).show_message("Loading the review queue…")
        store, name, order, who, page = self.store, self.dataset_name, self.order, self.annotator, self.walk.page_size

        def start() -> tuple[Dataset, list[ReviewItem]]:
            dataset = store.get_dataset(name)
            return dataset, store.review_queue(name, order, who, 0, page)

        self.walk.page_in_flight = True
        self.jobs.submit(self, "opening the review", start, lambda result: ReviewStarted(*result), tag="start")

    @property
    def task_kind(self) -> str:
        return self.dataset.task if self.dataset else "rank"

    def key(self, binding_id: str) -> str:
        return self.app.get_key_display(Binding(review_key(binding_id, self.keymap), ""))

    # -- what the keys may do now ----------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        bundle = self.walk.current_bundle
        own = self.mode == "own"
        if action in NEEDS_RECORD and bundle is None:
            return False
        if action == "select_annotator":
            return not own and bundle is not None and _index(parameters) < min(9, len(bundle.answers))
        if action in ("accept", "own_answer"):
            return not own
        if action in OWN_RANK_ACTIONS:
            if not own or self.task_kind != "rank" or bundle is None:
                return False
            return action != "rank" or _index(parameters) < len(bundle.record.candidates)
        if action == "decide":
            return own and self.task_kind == "pair" and bundle is not None
        if action == "cancel_own":
            return own
        return True

    def offer_keys(self) -> None:
        """Rebuild the footer when the keys on offer change (rebuilding it is slow: only then)."""
        bundle = self.walk.current_bundle
        offered = (
            self.mode,
            self.task_kind,
            bundle is not None,
            min(9, len(bundle.answers)) if bundle else 0,
            len(bundle.record.candidates) if bundle else 0,
        )
        if offered != self._offered:
            self._offered = offered
            self.refresh_bindings()

    # -- store results ---------------------------------------------------------------------
    async def on_review_started(self, message: ReviewStarted) -> None:
        self.dataset = message.dataset
        self.walk.add_page(message.items)
        if not self.walk.items:
            await self.show_current()
            return
        self.fetch_around()

    def on_queue_page_loaded(self, message: QueuePageLoaded) -> None:
        self.walk.add_page(message.items)
        self.fetch_around()
        self.show_header()

    async def on_bundles_loaded(self, message: BundlesLoaded) -> None:
        self.walk.bundles_loaded(message.bundles, message.asked)
        current = self.walk.current
        if current is not None and current.record_id in message.asked and self.shown_record != current.record_id:
            await self.show_current()

    def on_review_saved(self, message: ReviewSaved) -> None:
        review = message.review
        self.saving.discard(review.record_id)
        self.walk.review_saved(review)
        external = self._external_id(review.record_id)
        self.feedback = Text(f"✔ saved {external}: revision {review.revision}", style="green", end="")
        current = self.walk.current
        if current is not None and current.record_id == review.record_id:
            self.show_answers()
        self.show_header()
        self.show_status()

    def on_store_failed(self, message: StoreFailed) -> None:
        # The app shows the line; here what was in flight is forgotten so it may be asked again.
        if message.tag.startswith("fetch:"):
            self.walk.fetch_failed([int(part) for part in message.tag[6:].split(",") if part])
        elif message.tag == "page":
            self.walk.page_in_flight = False
        elif message.tag.startswith("save:"):
            self.saving.discard(int(message.tag[5:]))
            self.feedback = Text(f"✖ {message.text}", style="bold red", end="")
            self.show_status()

    # -- fetching ahead --------------------------------------------------------------------
    def fetch_around(self) -> None:
        """Ask for the records around the one on screen that are not loaded (one job each,
        nearest first, so the one on screen comes first), and the next page when near its end."""
        store = self.store
        for item in self.walk.to_fetch():
            self.submit_fetch(item)
        offset = self.walk.next_page_offset()
        if offset is not None:
            name, order, who, page = self.dataset_name, self.order, self.annotator, self.walk.page_size
            self.jobs.submit(
                self,
                "reading the review queue",
                lambda: store.review_queue(name, order, who, offset, page),
                QueuePageLoaded,
                tag="page",
            )

    def submit_fetch(self, item: ReviewItem) -> None:
        store, asked = self.store, [item.record_id]

        def reply(bundles: list[ReviewBundle]) -> Message:
            return BundlesLoaded(bundles, asked)

        self.jobs.submit(
            self,
            f"reading record {one_line(item.external_id)}",
            lambda: load_bundles(store, [item]),
            reply,
            tag=f"fetch:{item.record_id}",
        )

    # -- showing a record ------------------------------------------------------------------
    async def show_current(self) -> None:
        bundle = self.walk.current_bundle
        panel = self.query_one(CandidatePanel)
        if bundle is None:
            self.shown_record = None
            if not self.walk.items and self.walk.exhausted:
                self.query_one(PromptBox).show_message(self.empty_queue_text())
                panel.display = False
            else:
                self.query_one(PromptBox).show_message("Loading the record…")
            self.query_one("#review-answers", Static).update(Text("", end=""))
            self.query_one(ModelSuggestion).show_record(self.store, self.jobs, None)
            self.query_one("#review-written", Static).display = False
            self.query_one("#review-state", Static).update(Text("", end=""))
            self.show_header()
            self.show_status()
            self.offer_keys()
            return
        record = bundle.record
        if self.draft is None or self.draft.record_id != record.id:
            self.draft = decisions.draft_for(bundle)
            self.selected = None
            self.mode = "choose"
            self.expanded = False
        self.shown_record = record.id
        if not panel.display:
            panel.display = True
        self.query_one(PromptBox).show(record, self.limit(), self.key("review.expand"))
        count = len(record.candidates)
        labels = ["A", "B"] if self.task_kind == "pair" and count == 2 else [str(n + 1) for n in range(count)]
        cards = await panel.set_labels(labels)
        for card, candidate in zip(cards, record.candidates):
            card.show(candidate, self.limit(), self.key("review.expand"))
        self.show_answers()
        self.query_one(ModelSuggestion).show_record(self.store, self.jobs, record, labels, bundle.answers)
        self.show_header()
        self.show_status()
        self.offer_keys()
        self.call_after_refresh(self.host.record_rendered, record.id)

    def on_resize(self) -> None:
        self.show_answers()  # the table's lines are cut to its width

    def limit(self) -> int | None:
        return None if self.expanded else PREVIEW_CHARS

    def empty_queue_text(self) -> str:
        what = {
            "disputed": "with two or more answers",
            "annotator": f"with two or more answers that {self.annotator} answered",
            "commented": "with two or more answers and a comment",
            "model-disagrees": "with two or more answers, or where the reward model disagrees",
        }.get(self.order, "")
        return f"Nothing to review: no record of {self.dataset_name!r} {what} yet."

    def show_header(self) -> None:
        header = Text(no_wrap=True, overflow="ellipsis", end="")
        header.append(" Review ", style="bold reverse")
        header.append(f" {one_line(self.dataset_name)}", style="bold")
        if self.dataset is not None:
            header.append(f" · {self.dataset.task}")
        order = f"{self.order} order" if self.order != "annotator" else f"records of {one_line(self.annotator or '')}"
        header.append(f" · {order}")
        item = self.walk.current
        if item is not None:
            header.append(f" · record {self.walk.position + 1:,} of {self.walk.total_text()}")
            header.append(f" · {one_line(item.external_id)}", style="bold")
            if item.record_id in self.saving:
                header.append(" · saving…", style="yellow")
            elif item.reviewed:
                header.append(" · ✔ reviewed", style="green")
            else:
                header.append(" · not reviewed", style="yellow")
        header.append(f" · reviewer {one_line(self.reviewer)}")
        self.query_one("#review-header", Static).update(header, layout=False)  # one line, always

    def show_answers(self) -> None:
        """The answers table, the review's state and the marks on the cards."""
        bundle = self.walk.current_bundle
        if bundle is None:
            return
        count = len(bundle.record.candidates)
        box = self.query_one("#review-answers", Static)
        width = box.content_size.width or self.app.size.width - 4
        table = answers_table(bundle.answers, self.task_kind, count, self.selected, bundle.review, width)
        lines = len(bundle.answers) + 2
        if box.styles.height is None or box.styles.height.value != lines + 2:
            box.styles.height = lines + 2  # the border, the title, the header and one line per answer
            box.update(table)
        else:
            box.update(table, layout=False)  # as tall as before: repainted without laying out the screen
        written = written_answers_text(bundle.answers, count, self.expanded)
        written_box = self.query_one("#review-written", Static)
        written_box.display = written is not None
        if written is not None:
            written_box.update(written)
        state = review_text(bundle.review, bundle.history, self.task_kind, self.reviewer)
        if self.mode == "choose" and self.selected is not None:
            order = their_order_text(bundle.answers[self.selected], self.task_kind, count)
            if order is not None:
                state.append("\n")
                state.append_text(order)
        draft = self.draft
        if draft is not None and decisions.unsaved_draft(bundle, draft):
            state.append("\nyours, saved with your decision: ", style="bold cyan")
            state.append("gold" if draft.gold else "not gold")
            if draft.note:
                state.append(f" · note: {one_line(draft.note, 1000)}")
        self.query_one("#review-state", Static).update(state)
        self.show_marks(bundle)

    def show_marks(self, bundle: ReviewBundle) -> None:
        """On the cards: your ranking (own mode), else the selected annotator's answer, else the final one."""
        cards = self.query_one(CandidatePanel).cards
        if self.mode == "own" and self.task_kind == "rank":
            ranking = self.ranking
            for card in cards:
                rank = ranking.rank_of(card.position)
                card.show_rank(rank, rank > 0 and len(ranking.groups[rank - 1]) > 1)
            return
        ranks, both_bad = decisions.chosen_marks(bundle, self.mode, self.selected)
        if self.task_kind == "pair" and len(cards) == 2:
            for card, verdict in zip(cards, decisions.pair_verdicts(ranks, both_bad)):
                card.show_choice(verdict)
            return
        for card in cards:
            rank = ranks[card.position] if card.position < len(ranks) else 0
            card.show_rank(rank, rank > 0 and ranks.count(rank) > 1)

    def show_status(self) -> None:
        self.query_one(ReviewStatusLine).show(
            mode=self.mode,
            task=self.task_kind,
            bundle=self.walk.current_bundle,
            selected=self.selected,
            tie_pending=self.ranking.tie_pending,
            feedback=self.feedback,
            key=self.key,
        )

    def _external_id(self, record_id: int) -> str:
        bundle = self.walk.bundles.get(record_id)
        if bundle is not None:
            return one_line(bundle.record.external_id)
        return next((one_line(i.external_id) for i in self.walk.items if i.record_id == record_id), str(record_id))

    # -- saving ------------------------------------------------------------------------------
    def save(self, bundle: ReviewBundle, review: ReviewInput, what: str) -> None:
        record_id = bundle.record.id
        self.saving.add(record_id)
        store = self.store
        external = one_line(bundle.record.external_id)
        self.feedback = Text(f"… {external}: {what}", end="")
        self.jobs.submit(
            self,
            f"saving the review of {external}",
            lambda: store.save_review(review),
            ReviewSaved,
            tag=f"save:{record_id}",
        )

    async def decide(self, bundle: ReviewBundle, review: ReviewInput, what: str) -> None:
        """Save the final answer and go on to the next record at once (the save runs behind)."""
        self.save(bundle, review, what)
        self.mode = "choose"
        if not await self.move(1, quiet=True):
            await self.show_current()

    def amend_or_keep(self, bundle: ReviewBundle, what: str) -> None:
        """A reviewed record gets the draft's note and gold mark as a new revision at once;
        an unreviewed one keeps them for the decision."""
        draft = self.draft
        if draft is None:
            return
        amended = decisions.amendment(bundle, draft, self.reviewer)
        if amended is None:
            self.feedback = Text(f"{what}: saved with your decision", end="")
        else:
            self.save(bundle, amended, f"{what} (amending)")
        self.show_answers()
        self.show_header()
        self.show_status()

    # -- moving --------------------------------------------------------------------------------
    async def move(self, step: int, quiet: bool = False) -> bool:
        if not self.walk.move(step):
            if not quiet:
                end = "last" if step > 0 else "first"
                more = " (more are loading)" if step > 0 and not self.walk.exhausted else ""
                self.notify(f"This is the {end} record of the queue{more}.", markup=False)
            return False
        self.mode = "choose"
        await self.show_current()
        self.call_after_refresh(self.fetch_around)  # once the record is painted: the store worker never slows that
        return True

    async def action_next(self) -> None:
        await self.move(1)

    def action_jump(self) -> None:
        store, name = self.store, self.dataset_name

        def go(external_id: str | None) -> None:
            if not external_id:
                return
            self.jobs.submit(
                self,
                f"finding record {one_line(external_id)}",
                lambda: find_item(store, name, external_id),
                lambda item: ReviewRecordFound(external_id, item),
            )

        self.app.push_screen(TextPromptScreen("Go to a record", "The record's id from the file, e.g. r17:"), go)

    async def on_review_record_found(self, message: ReviewRecordFound) -> None:
        if message.item is None:
            self.notify(
                f"No record {one_line(message.external_id)!r} in this dataset.", markup=False, severity="warning"
            )
            return
        self.walk.jump_to(message.item)
        self.mode = "choose"
        await self.show_current()
        self.call_after_refresh(self.fetch_around)

    async def action_previous(self) -> None:
        await self.move(-1)

    # -- choosing an annotator's answer -----------------------------------------------------------
    def action_select_annotator(self, row: int) -> None:
        bundle = self.walk.current_bundle
        if bundle is None or self.mode != "choose" or row >= len(bundle.answers):
            return
        self.selected = None if self.selected == row else row
        self.show_answers()
        self.show_status()

    async def action_accept(self) -> None:
        bundle = self.walk.current_bundle
        if bundle is None or self.mode != "choose":
            return
        try:
            review, what = decisions.accepting(bundle, self.selected, self.reviewer, self.draft)
        except CannotDecide as why:
            self.notify(str(why), markup=False, severity="warning" if self.selected is None else "information")
            return
        await self.decide(bundle, review, what)

    # -- one's own answer ------------------------------------------------------------------------
    def action_own_answer(self) -> None:
        bundle = self.walk.current_bundle
        if bundle is None:
            return
        self.mode = "own"
        self.selected = None
        self.ranking = Ranking(tuple(range(len(bundle.record.candidates))))  # from scratch, also when amending
        self.show_answers()
        self.show_status()
        self.offer_keys()

    def action_cancel_own(self) -> None:
        self.mode = "choose"
        bundle = self.walk.current_bundle
        if bundle is not None:
            self.show_answers()
        self.show_status()
        self.offer_keys()

    def own_changed(self) -> None:
        bundle = self.walk.current_bundle
        if bundle is not None:
            self.show_marks(bundle)
        self.show_status()

    def action_rank(self, position: int) -> None:
        if position < self.ranking.size:
            self.ranking.toggle(position)
            self.own_changed()

    def action_tie(self) -> None:
        self.ranking.toggle_tie()
        self.own_changed()

    def action_clear(self) -> None:
        self.ranking.clear()
        self.own_changed()

    async def action_save_ranking(self) -> None:
        bundle = self.walk.current_bundle
        if bundle is None:
            return
        try:
            review, what = decisions.own_ranking(bundle, self.ranking, self.reviewer, self.draft)
        except CannotDecide as why:
            self.notify(str(why), markup=False, severity="warning")
            return
        await self.decide(bundle, review, what)

    async def action_decide(self, choice: str) -> None:
        bundle = self.walk.current_bundle
        if bundle is None:
            return
        try:
            review, what = decisions.own_choice(bundle, choice, self.reviewer, self.draft)
        except CannotDecide as why:
            self.notify(str(why), markup=False, severity="error")
            return
        await self.decide(bundle, review, what)

    # -- note, gold, texts ---------------------------------------------------------------------
    def action_note(self) -> None:
        bundle = self.walk.current_bundle
        if bundle is None or self.draft is None:
            return
        draft = self.draft

        def set_note(note: str | None) -> None:
            if note is None or self.draft is not draft or note == draft.note:
                return
            draft.note = note
            self.amend_or_keep(bundle, "note")

        self.app.push_screen(
            TextPromptScreen("Review note", "Why this is the final answer (saved with the review):", draft.note),
            set_note,
        )

    def action_gold(self) -> None:
        bundle = self.walk.current_bundle
        if bundle is None or self.draft is None:
            return
        self.draft.gold = not self.draft.gold
        self.amend_or_keep(bundle, "gold" if self.draft.gold else "not gold")

    async def action_expand(self) -> None:
        self.expanded = not self.expanded
        self.shown_record = None
        bundle = self.walk.current_bundle
        if bundle is not None:
            self.query_one(PromptBox).show(bundle.record, self.limit(), self.key("review.expand"))
            for card, candidate in zip(self.query_one(CandidatePanel).cards, bundle.record.candidates):
                card.show(candidate, self.limit(), self.key("review.expand"))
            self.shown_record = bundle.record.id
            self.show_answers()  # the written answers in full, or cut again

    # -- app-wide keys -------------------------------------------------------------------------
    def action_help(self) -> None:
        self.app.push_screen(ReviewHelpScreen(self.keymap))

    def action_quit(self) -> None:
        self.host.quit_when_saved()

    def action_interrupt(self) -> None:
        self.host.interrupt()


def _index(parameters: tuple[object, ...]) -> int:
    value = parameters[0] if parameters else None
    return value if isinstance(value, int) else 99
