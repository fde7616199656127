"""Rate mode: every candidate rated on the dataset's axes (and ranked too, with the
dataset's rank_too). The sheet under the cards has one row per candidate and one column
per axis; the highlighted cell is where a digit goes, and its candidate's card is
marked. A digit sets the cell and moves on to the next (a scale above 9 takes two
digits, or one and a pause), tab/shift+tab move cell by cell, the arrows by axis and by
candidate, backspace clears a cell, enter submits once every required rating is given."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.timer import Timer

from rlhf_tui.app.annotate.answering import AnswerParts
from rlhf_tui.app.annotate.ranking import ordinal
from rlhf_tui.app.annotate.rating_sheet import Axis, RatingSheet, axes_of
from rlhf_tui.app.annotate.screen import AnnotateContext, AnnotateScreen
from rlhf_tui.app.annotate.session import Item
from rlhf_tui.app.keymap import RATE_BINDINGS
from rlhf_tui.app.safe_text import neutralise
from rlhf_tui.app.widgets import CandidateGrid, RatingsPanel
from store import Dataset

DIGIT_WAIT_SECONDS = 0.8  # after a digit that a longer value could start (1 on a 1–10 scale)
MISSING_NAMED = 3  # missing ratings a notice names before "and N more"


class RateScreen(AnnotateScreen):
    BINDINGS: ClassVar[list[BindingType]] = [*RATE_BINDINGS]
    task_kind = "rate"

    def __init__(self, dataset: Dataset, context: AnnotateContext) -> None:
        super().__init__(dataset, context)
        self.axes: list[Axis] = axes_of(dataset.settings)
        self.rank_too = bool(dataset.settings.get("rank_too"))
        self.sheet = RatingSheet.for_record((), self.axes, self.rank_too)
        self.labels: list[str] = []
        self.digit_timer: Timer | None = None

    def mode_widgets(self) -> ComposeResult:
        yield RatingsPanel(id="ratings")

    def on_mount(self) -> None:
        if not self.axes:
            self.app.notify(  # about the dataset, not the record on screen: stays when the next one shows
                "This dataset has no rating axes yet: an admin sets them with `rlhf-tui settings --axes FILE.toml`.",
                severity="error",
                markup=False,
                timeout=15,
            )

    # -- the mode ----------------------------------------------------------------------
    def card_labels(self, item: Item) -> list[str]:
        return [str(position + 1) for position in range(len(item.shown_order))]

    def restore_mode(self, item: Item, parts: AnswerParts | None) -> None:
        self.stop_waiting()
        self.labels = self.card_labels(item)
        self.sheet = RatingSheet.for_record(item.shown_order, self.axes, self.rank_too)
        if parts is not None:
            self.sheet.restore(parts.ratings, parts.ranks)

    def mode_answer(self) -> AnswerParts:
        return AnswerParts(ranks=self.sheet.canonical_ranks(), ratings=self.sheet.ratings())

    def best_position(self) -> int | None:
        return self.sheet.best_position()

    def refresh_marks(self) -> None:
        sheet = self.sheet
        grid = self.query_one(CandidateGrid)
        for card in grid.cards:
            given, required = sheet.rated(card.position)
            rank_column = next((c for c, axis in enumerate(sheet.columns) if axis.is_rank), None)
            rank = sheet.value(card.position, rank_column) if rank_column is not None else None
            parts = [f"{ordinal(rank)}"] if rank else []
            parts.append("✔ rated" if given == required else f"rated {given}/{required}")
            card.show_mark(" · ".join(parts), "best" if rank == 1 else "ranked" if given == required else "")
            card.show_cursor(card.position == sheet.position)
            if card.position == sheet.position and not card.has_focus:
                card.focus(scroll_visible=False)  # pgup/pgdn scroll the card being rated
        self.query_one(RatingsPanel).show(sheet, self.labels)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "rate_char" and parameters == ("-",) and not any(axis.low < 0 for axis in self.sheet.columns):
            return False
        return super().check_action(action, parameters)

    # -- keys ----------------------------------------------------------------------------
    def sheet_changed(self, answer_changed: bool) -> None:
        if answer_changed:
            self.ranking_changed()  # marks, status, draft
        else:
            self.refresh_marks()

    def action_rate_char(self, char: str) -> None:
        if self.ready_item() is None or not self.sheet.columns:
            return
        self.stop_waiting()
        typed = self.sheet.type_char(char)
        if typed.refusal:
            self.warn(typed.refusal)
        if typed.waiting:
            self.digit_timer = self.set_timer(DIGIT_WAIT_SECONDS, self.typed_pause)
        self.sheet_changed(typed.set)

    def typed_pause(self) -> None:
        """No second digit came: what was typed is the rating."""
        self.digit_timer = None
        if self.ready_item() is not None and self.sheet.typed:
            self.sheet_changed(self.commit_typed())

    def commit_typed(self) -> bool:
        """Set what was typed before moving or submitting; a notice when it is no value."""
        self.stop_waiting()
        if not self.sheet.typed:
            return False
        axis = self.sheet.axis
        if self.sheet.commit_typed():
            return True
        self.warn(f"{axis.name} takes {axis.low} to {axis.high}")
        return False

    def warn(self, text: str) -> None:
        """A one-line notice; axis names come from dataset settings, so shown neutralised."""
        self.notify(neutralise(text, one_line=True), markup=False, severity="warning")

    def stop_waiting(self) -> None:
        if self.digit_timer is not None:
            self.digit_timer.stop()
            self.digit_timer = None

    def action_move_cell(self, step: int) -> None:
        if self.ready_item() is not None:
            changed = self.commit_typed()
            if not changed:
                self.sheet.move(step)
            self.sheet_changed(changed)

    def action_move_axis(self, step: int) -> None:
        if self.ready_item() is not None:
            changed = self.commit_typed()
            if not changed:
                self.sheet.move_axis(step)
            self.sheet_changed(changed)

    def action_move_candidate(self, step: int) -> None:
        if self.ready_item() is not None:
            changed = self.commit_typed()
            if not changed:
                self.sheet.move_candidate(step)
            self.sheet_changed(changed)

    def action_clear(self) -> None:
        if self.ready_item() is not None:
            self.stop_waiting()
            had_value = self.sheet.value(self.sheet.position, self.sheet.column) is not None
            if self.sheet.clear():
                self.sheet_changed(had_value)

    async def action_submit(self) -> None:
        if self.ready_item() is None:
            return
        self.commit_typed()
        if not self.sheet.columns:
            self.notify("This dataset has no rating axes: skip or discard the record.", markup=False, severity="error")
            return
        missing = self.sheet.missing()
        if missing:
            self.warn(self.missing_text(missing))
            self.sheet.go_to(*missing[0])
            self.sheet_changed(False)
            return
        problem = self.sheet.rank_problem()
        if problem:
            self.warn(problem[0].upper() + problem[1:] + ".")
            return
        await self.finish("submitted", self.mode_answer())

    def missing_text(self, missing: list[tuple[int, int]]) -> str:
        names = [
            f"{self.labels[position]} on {self.sheet.columns[column].name}"
            for position, column in missing[:MISSING_NAMED]
        ]
        more = f" and {len(missing) - MISSING_NAMED} more" if len(missing) > MISSING_NAMED else ""
        return f"Rate every candidate first: {len(missing)} missing ({', '.join(names)}{more})."
