"""Pair mode: A and B (two candidates in this annotator's shuffled order); one key
decides and moves on: A better, B better, tie, both bad."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import BindingType

from rlhf_tui.app.annotate.answering import AnswerParts
from rlhf_tui.app.annotate.ranking import pair_choice, pair_ranks
from rlhf_tui.app.annotate.screen import AnnotateContext, AnnotateScreen
from rlhf_tui.app.annotate.session import Item
from rlhf_tui.app.keymap import PAIR_BINDINGS
from rlhf_tui.app.widgets import CandidateGrid
from store import Dataset

VERDICTS = {  # earlier decision → what cards A and B say
    "a": ("better", "worse"),
    "b": ("worse", "better"),
    "tie": ("tie", "tie"),
    "both_bad": ("both bad", "both bad"),
}


class PairScreen(AnnotateScreen):
    BINDINGS: ClassVar[list[BindingType]] = [*PAIR_BINDINGS]
    task_kind = "pair"

    def __init__(self, dataset: Dataset, context: AnnotateContext) -> None:
        super().__init__(dataset, context)
        self.earlier_choice: str | None = None
        self.candidate_count = 0

    def card_labels(self, item: Item) -> list[str]:
        count = len(item.shown_order)
        return ["A", "B"] if count == 2 else [str(position + 1) for position in range(count)]

    def restore_mode(self, item: Item, parts: AnswerParts | None) -> None:
        self.candidate_count = len(item.shown_order)
        both_bad = bool(item.previous and item.previous.both_bad)
        ranks = parts.ranks if parts else ()
        self.earlier_choice = pair_choice(item.shown_order, ranks, both_bad) if item.answered else None

    def mode_answer(self) -> AnswerParts:
        return AnswerParts(ranks=(0,) * self.candidate_count)

    def best_position(self) -> int | None:
        return {"a": 0, "b": 1}.get(self.earlier_choice or "")

    def refresh_marks(self) -> None:
        verdicts = VERDICTS.get(self.earlier_choice or "", ("", ""))
        for card, verdict in zip(self.query_one(CandidateGrid).cards, verdicts):
            card.show_choice(verdict)

    async def action_decide(self, choice: str) -> None:
        item = self.ready_item()
        if item is None:
            return
        if len(item.shown_order) != 2:
            self.notify(
                f"Record {item.record.external_id!r} has {len(item.shown_order)} candidates, not 2: "
                "discard or skip it.",
                markup=False,
                severity="error",
            )
            return
        shown_a, shown_b = item.shown_order
        ranks, both_bad = pair_ranks((shown_a, shown_b), choice)
        await self.finish("submitted", AnswerParts(ranks=ranks), both_bad=both_bad)
