"""One candidate answer in a bordered card that scrolls on its own; its title is the
key that ranks it (1…9, or A/B) and its subtitle the rank it has been given."""

from __future__ import annotations

from textual.color import Color
from textual.containers import VerticalScroll
from textual.content import Content
from textual.css.types import EdgeType
from textual.geometry import Size
from textual.widgets import Static

from store import Candidate

from ..ranking import ordinal
from ..safe_text import render_untrusted

# A mark's border (edge type, theme colour), set as an inline style: re-matching the CSS
# for a class toggle took most of the time spent showing the next record.
MARK_BORDERS: dict[str, tuple[EdgeType, str]] = {
    "ranked": ("round", "success"),
    "best": ("heavy", "success"),
    "chosen": ("heavy", "success"),
    "rejected": ("round", "error"),
}


class CandidateCard(VerticalScroll, can_focus=True):
    DEFAULT_CSS = """
    CandidateCard { border: round $panel-lighten-2; padding: 0 1; height: 1fr; min-height: 3; }
    CandidateCard:focus { border: round $accent; }
    CandidateCard > Static { width: 1fr; }
    """

    def __init__(self, position: int, label: str) -> None:
        super().__init__(classes="candidate")
        self.position = position
        self.label = label
        self.text_length = 0
        self._marks: tuple | None = None  # what the border shows now: unchanged marks are not repainted

    def compose(self):
        yield Static(classes="candidate-body")

    def on_mount(self) -> None:
        self.border_title = Content(self.label)

    @property
    def body(self) -> Static:
        return self.query_one(".candidate-body", Static)

    def show(self, candidate: Candidate, limit: int | None, expand_key: str = "e", markdown: bool = False) -> None:
        self.text_length = len(candidate.text)
        self.body.update(render_untrusted(candidate.text, limit, expand_key, markdown))
        self.scroll_home(animate=False)

    def needed_height(self, width: int) -> int:
        """Rows the card needs at `width` cells to show its text without scrolling."""
        inner = max(1, width - 4)  # the border and the padding on each side
        size = Size(inner, self.app.size.height)
        return self.body.get_content_height(size, self.app.size, inner) + 2

    def show_rank(self, rank: int, tied: bool, pending_hint: str = "") -> None:
        """Rank 0 means not ranked yet; `tied` when another card shares the rank."""
        if self._marks == ("rank", rank, tied, pending_hint):
            return  # a keypress on one card leaves the others as they are: no repaint of them
        self._marks = ("rank", rank, tied, pending_hint)
        if rank:
            text = f"{'tied ' if tied else ''}{ordinal(rank)}"
        else:
            text = pending_hint
        self.border_subtitle = Content(text) if text else None
        self._set_mark_border("best" if rank == 1 else "ranked" if rank else "")

    def show_choice(self, verdict: str) -> None:
        """Pair mode: '' (undecided), 'better', 'worse', 'tie', 'both bad' — from an earlier answer."""
        if self._marks == ("choice", verdict):
            return
        self._marks = ("choice", verdict)
        self.border_subtitle = Content(verdict) if verdict else None
        self._set_mark_border(
            "chosen" if verdict in ("better", "tie") else "rejected" if verdict in ("worse", "both bad") else ""
        )

    def _set_mark_border(self, mark: str) -> None:
        """The border of a mark; none (''): the CSS border, which shows focus."""
        if mark:
            edge, variable = MARK_BORDERS[mark]
            self.styles.border = (edge, Color.parse(self.app.theme_variables[variable]))
        else:
            self.styles.border = None
