"""Thumbs mode: each candidate good or bad, one keypress each. The highlighted card
(marked ▶ N ◀) takes y/+ (good) or n/- (bad) and the highlight moves to the next
card, so a record of three answers is three keys and enter. Tab and the arrows move the
highlight, a digit jumps to that card, backspace clears its thumb. Saved as ratings on
the store's thumbs axis: 1 good, 0 bad."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import BindingType

from rlhf_tui.app.annotate.answering import AnswerParts
from rlhf_tui.app.annotate.screen import AnnotateContext, AnnotateScreen
from rlhf_tui.app.annotate.session import Item
from rlhf_tui.app.keymap import THUMBS_BINDINGS
from rlhf_tui.app.widgets import CandidateGrid
from store import Dataset
from store.types import THUMBS_AXIS


class ThumbsScreen(AnnotateScreen):
    BINDINGS: ClassVar[list[BindingType]] = [*THUMBS_BINDINGS]
    task_kind = "thumbs"

    def __init__(self, dataset: Dataset, context: AnnotateContext) -> None:
        super().__init__(dataset, context)
        self.shown_order: tuple[int, ...] = ()
        self.thumbs: dict[int, int] = {}  # shown position → 1 good, 0 bad
        self.cursor = 0

    def card_labels(self, item: Item) -> list[str]:
        return [str(position + 1) for position in range(len(item.shown_order))]

    def restore_mode(self, item: Item, parts: AnswerParts | None) -> None:
        self.shown_order = item.shown_order
        where = {canonical: position for position, canonical in enumerate(item.shown_order)}
        self.thumbs = {
            where[canonical]: 1 if value >= 1 else 0
            for canonical, axis, value in (parts.ratings if parts else ())
            if axis == THUMBS_AXIS and canonical in where
        }
        unset = [p for p in range(len(self.shown_order)) if p not in self.thumbs]
        self.cursor = unset[0] if unset else 0

    def mode_answer(self) -> AnswerParts:
        ratings = sorted((self.shown_order[p], THUMBS_AXIS, float(v)) for p, v in self.thumbs.items())
        return AnswerParts(ratings=tuple(ratings))

    def best_position(self) -> int | None:
        good = sorted(p for p, v in self.thumbs.items() if v == 1)
        return good[0] if len(good) == 1 else None  # one good answer: start from it

    def refresh_marks(self) -> None:
        for card in self.query_one(CandidateGrid).cards:
            thumb = self.thumbs.get(card.position)
            if thumb is None:
                card.show_mark("")
            else:
                card.show_mark("✔ good" if thumb else "✖ bad", "chosen" if thumb else "rejected")
            card.show_cursor(card.position == self.cursor)
            if card.position == self.cursor and not card.has_focus:
                card.focus(scroll_visible=False)  # pgup/pgdn scroll the highlighted card

    def mode_note(self) -> str:
        left = len(self.shown_order) - len(self.thumbs)
        return f"{left} without a thumb" if self.thumbs and left else ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Only the numbers of the candidates on screen are offered.
        if (
            action == "highlight"
            and parameters
            and isinstance(parameters[0], int)
            and parameters[0] >= len(self.shown_order)
        ):
            return False
        return super().check_action(action, parameters)

    def highlight_moved(self) -> None:
        self.refresh_marks()
        self.refresh_status()

    def action_thumb(self, value: int) -> None:
        if self.ready_item() is None or not self.shown_order:
            return
        self.thumbs[self.cursor] = value
        self.cursor = min(len(self.shown_order) - 1, self.cursor + 1)
        self.ranking_changed()  # marks, status, draft

    def action_move_candidate(self, step: int) -> None:
        if self.ready_item() is not None and self.shown_order:
            self.cursor = min(len(self.shown_order) - 1, max(0, self.cursor + step))
            self.highlight_moved()

    def action_highlight(self, position: int) -> None:
        if self.ready_item() is not None and position < len(self.shown_order):
            self.cursor = position
            self.highlight_moved()

    def action_clear(self) -> None:
        if self.ready_item() is not None and self.thumbs.pop(self.cursor, None) is not None:
            self.ranking_changed()

    async def action_submit(self) -> None:
        if self.ready_item() is None:
            return
        unset = [p for p in range(len(self.shown_order)) if p not in self.thumbs]
        if unset:
            names = ", ".join(str(p + 1) for p in unset)
            self.notify(
                f"Give every candidate a thumb first: {len(unset)} without one ({names}).",
                markup=False,
                severity="warning",
            )
            self.cursor = unset[0]
            self.highlight_moved()
            return
        await self.finish("submitted", self.mode_answer())
