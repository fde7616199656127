"""Lays the candidate cards out side by side when the terminal is wide and stacked when
it is narrow: as many columns as fit at the minimum card width. Each row of cards is as
tall as its longest text needs, when the screen has the room; rows that need more share
what is left and scroll."""

from __future__ import annotations

import math

from textual import events
from textual.containers import Container

from rlhf_tui.app.widgets.candidate_card import CandidateCard, WrittenCard

MIN_ROW_HEIGHT = 3  # a border and one line


def grid_shape(width: int, count: int, min_card_width: int) -> tuple[int, int]:
    """(columns, rows) for `count` cards in `width` cells."""
    if count <= 0:
        return 1, 1
    columns = max(1, min(count, width // max(1, min_card_width)))
    rows = math.ceil(count / columns)
    columns = math.ceil(count / rows)  # even rows: 5 cards where 4 columns fit become 3 + 2, not 4 + 1
    return columns, rows


def row_heights(needs: list[int], available: int, minimum: int = MIN_ROW_HEIGHT) -> list[int]:
    """Heights for rows that need `needs` rows each within `available`: a row that needs
    no more than an equal share of what is left gets what it needs; the others share the rest."""
    heights = [0] * len(needs)
    remaining = max(0, available)
    pending = sorted(range(len(needs)), key=lambda row: needs[row])
    while pending:
        share = remaining // len(pending)
        smallest = pending[0]
        if max(minimum, needs[smallest]) <= share:
            heights[smallest] = max(minimum, needs[smallest])
            remaining -= heights[smallest]
            pending.pop(0)
            continue
        extra = remaining - share * len(pending)
        for order, row in enumerate(pending):
            heights[row] = max(minimum, share + (1 if order < extra else 0))
        break
    return heights


class CandidateGrid(Container):
    DEFAULT_CSS = """
    CandidateGrid { layout: grid; height: 1fr; grid-gutter: 0 1; }
    """

    def __init__(self, min_card_width: int = 38, **kwargs) -> None:
        super().__init__(**kwargs)
        self.min_card_width = min_card_width
        self._rows_for: tuple[int, int] = (0, 0)  # the (width, height) the row heights were fitted to

    @property
    def cards(self) -> list[CandidateCard]:
        """The candidates' cards, in the order shown (not the written answer's)."""
        return [card for card in self.query_children(CandidateCard) if not isinstance(card, WrittenCard)]

    @property
    def written_card(self) -> WrittenCard | None:
        cards = list(self.query_children(WrittenCard))
        return cards[0] if cards else None

    async def set_card_count(self, labels: list[str], written: bool = False) -> list[CandidateCard]:
        """Make exactly one card per label, and the written answer's card after them when
        `written`, reusing the cards already there."""
        cards = self.cards
        if [c.label for c in cards] != labels:
            await self.remove_children()
            cards = [CandidateCard(position, label) for position, label in enumerate(labels)]
            await self.mount_all(cards)
        card = self.written_card
        if written and card is None:
            await self.mount(WrittenCard(len(labels)))
        elif not written and card is not None:
            await card.remove()
        return cards

    def on_resize(self, event: events.Resize) -> None:
        if (event.size.width, event.size.height) != self._rows_for:
            self.fit()

    def fit(self) -> None:
        """Lay the cards out for the texts they show now and the room the grid has."""
        cards = list(self.query_children(CandidateCard))  # the written answer's card too
        width = self.size.width or self.app.size.width
        height = self.size.height or self.app.size.height
        self._rows_for = (width, height)
        columns, rows = grid_shape(width, len(cards), self.min_card_width)
        card_width = (width - (columns - 1)) // columns  # a gutter of one cell between columns
        needs = [
            max((card.needed_height(card_width) for card in cards[row * columns : (row + 1) * columns]), default=0)
            for row in range(rows)
        ]
        heights = tuple(row_heights(needs, height))
        styles = self.styles
        if (styles.grid_size_columns, styles.grid_size_rows) != (columns, rows):
            styles.grid_size_columns = columns
            styles.grid_size_rows = rows
        if tuple(int(scalar.value) for scalar in styles.grid_rows or ()) != heights:
            styles.grid_rows = heights  # a change means a relayout
        self.set_class(columns == 1, "-stacked")
