"""Rank mode: number keys give candidates the next rank (again: take it out), the tie
key makes the next one share the previous rank, backspace clears, enter submits."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import BindingType

from rlhf_tui.app.annotate.answering import AnswerParts
from rlhf_tui.app.annotate.ranking import Ranking, ordinal
from rlhf_tui.app.annotate.screen import AnnotateContext, AnnotateScreen
from rlhf_tui.app.annotate.session import Item
from rlhf_tui.app.keymap import RANK_BINDINGS
from rlhf_tui.app.widgets import CandidateGrid
from store import Dataset


class RankScreen(AnnotateScreen):
    BINDINGS: ClassVar[list[BindingType]] = [*RANK_BINDINGS]
    task_kind = "rank"

    def __init__(self, dataset: Dataset, context: AnnotateContext) -> None:
        super().__init__(dataset, context)
        self.ranking = Ranking(())

    def card_labels(self, item: Item) -> list[str]:
        return [str(position + 1) for position in range(len(item.shown_order))]

    def restore_mode(self, item: Item, parts: AnswerParts | None) -> None:
        self.ranking = Ranking.from_canonical(item.shown_order, parts.ranks if parts else ())

    def mode_answer(self) -> AnswerParts:
        return AnswerParts(ranks=self.ranking.canonical_ranks())

    def best_position(self) -> int | None:
        return self.ranking.groups[0][0] if self.ranking.groups else None

    def refresh_marks(self) -> None:
        ranking = self.ranking
        unranked = ranking.unranked_positions()
        next_rank = len(ranking.groups) if ranking.tie_pending else len(ranking.groups) + 1
        for card in self.query_one(CandidateGrid).cards:
            rank = ranking.rank_of(card.position)
            tied = rank > 0 and len(ranking.groups[rank - 1]) > 1
            hint = f"{ordinal(next_rank)} on submit" if unranked == [card.position] and rank == 0 else ""
            card.show_rank(rank, tied, hint)

    def mode_note(self) -> str:
        if self.ranking.tie_pending and self.ranking.groups:
            return f"tie: the next one shares rank {len(self.ranking.groups)}"
        return ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Only the numbers of the candidates on screen are offered.
        if action == "rank" and parameters and isinstance(parameters[0], int) and parameters[0] >= self.ranking.size:
            return False
        return super().check_action(action, parameters)

    def action_rank(self, position: int) -> None:
        if self.ready_item() is not None and position < self.ranking.size:
            self.ranking.toggle(position)
            self.ranking_changed()

    def action_tie(self) -> None:
        if self.ready_item() is not None:
            self.ranking.toggle_tie()
            self.refresh_marks()
            self.refresh_status()

    def action_clear(self) -> None:
        if self.ready_item() is not None and not self.ranking.is_empty:
            self.ranking.clear()
            self.ranking_changed()

    async def action_submit(self) -> None:
        if self.ready_item() is None:
            return
        left = len(self.ranking.unranked_positions())
        if left > 1:
            self.notify(f"Rank every candidate first ({left} not ranked yet).", markup=False, severity="warning")
            return
        self.ranking.complete_last()
        await self.finish("submitted", AnswerParts(ranks=self.ranking.canonical_ranks()))
