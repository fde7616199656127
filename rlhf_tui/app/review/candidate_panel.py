"""The candidates of the record under review, each once, in their canonical order (the
order of the imported file): cards titled 1…N (A and B for pairs) side by side when they
fit, in rows when not. The cards are the annotate screen's (`widgets.CandidateCard`)."""

from __future__ import annotations

from textual import events
from textual.containers import Container

from rlhf_tui.app.widgets import CandidateCard, grid_shape

MIN_CARD_WIDTH = 30


class CandidatePanel(Container):
    DEFAULT_CSS = """
    CandidatePanel { layout: grid; height: auto; grid-rows: auto; grid-gutter: 0 1; }
    CandidatePanel > CandidateCard { height: auto; max-height: 20; }
    """

    @property
    def cards(self) -> list[CandidateCard]:
        return list(self.query_children(CandidateCard))

    async def set_labels(self, labels: list[str]) -> list[CandidateCard]:
        """Exactly one card per label, reusing the cards already there."""
        cards = self.cards
        if [card.label for card in cards] != labels:
            await self.remove_children()
            cards = [CandidateCard(position, label) for position, label in enumerate(labels)]
            await self.mount_all(cards)
            self._lay_out(self.size.width)
        return cards

    def on_resize(self, event: events.Resize) -> None:
        self._lay_out(event.size.width)

    def _lay_out(self, width: int) -> None:
        columns, rows = grid_shape(width or self.app.size.width, len(self.cards), MIN_CARD_WIDTH)
        if (self.styles.grid_size_columns, self.styles.grid_size_rows) != (columns, rows):
            self.styles.grid_size_columns = columns
            self.styles.grid_size_rows = rows
