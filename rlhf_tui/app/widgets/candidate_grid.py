"""Lays the candidate cards out side by side when the terminal is wide and stacked when
it is narrow: as many columns as fit at the minimum card width."""

from __future__ import annotations

import math

from textual import events
from textual.containers import Container

from .candidate_card import CandidateCard


def grid_shape(width: int, count: int, min_card_width: int) -> tuple[int, int]:
    """(columns, rows) for `count` cards in `width` cells."""
    if count <= 0:
        return 1, 1
    columns = max(1, min(count, width // max(1, min_card_width)))
    rows = math.ceil(count / columns)
    columns = math.ceil(count / rows)  # even rows: 5 cards where 4 columns fit become 3 + 2, not 4 + 1
    return columns, rows


class CandidateGrid(Container):
    DEFAULT_CSS = """
    CandidateGrid { layout: grid; height: 1fr; grid-gutter: 0 1; }
    """

    def __init__(self, min_card_width: int = 38, **kwargs) -> None:
        super().__init__(**kwargs)
        self.min_card_width = min_card_width

    @property
    def cards(self) -> list[CandidateCard]:
        return list(self.query_children(CandidateCard))

    async def set_card_count(self, labels: list[str]) -> list[CandidateCard]:
        """Make exactly one card per label, reusing the cards already there."""
        cards = self.cards
        if [c.label for c in cards] != labels:
            await self.remove_children()
            cards = [CandidateCard(position, label) for position, label in enumerate(labels)]
            await self.mount_all(cards)
        self._relayout(self.size.width)
        return cards

    def on_resize(self, event: events.Resize) -> None:
        self._relayout(event.size.width)

    def _relayout(self, width: int) -> None:
        columns, rows = grid_shape(width or self.app.size.width, len(self.cards), self.min_card_width)
        if (self.styles.grid_size_columns, self.styles.grid_size_rows) != (columns, rows):  # a change means a relayout
            self.styles.grid_size_columns = columns
            self.styles.grid_size_rows = rows
        self.set_class(columns == 1, "-stacked")
