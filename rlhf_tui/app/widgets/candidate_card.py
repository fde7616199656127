"""One candidate answer in a bordered card that scrolls on its own; its title is the
key that ranks it (1…9, or A/B) and its subtitle the rank, rating or thumb it has been
given. A card whose text goes on below its border says so in its title, with how to
scroll it; the focused card has a shaded background and says so too (marks such as the
first rank change only the border). An empty answer (possible in imported hh/trl files)
says so. `WrittenCard` shows the annotator's own written answer after the candidates."""

from __future__ import annotations

from rich.text import Text
from textual.color import Color
from textual.containers import VerticalScroll
from textual.content import Content
from textual.css.types import EdgeType
from textual.geometry import Size
from textual.widgets import Static

from rlhf_tui.app.annotate.ranking import ordinal, written_place
from rlhf_tui.app.safe_text import render_untrusted
from store import Candidate

# A mark's border (edge type, theme colour), set as an inline style: re-matching the CSS
# for a class toggle took most of the time spent showing the next record.
MARK_BORDERS: dict[str, tuple[EdgeType, str]] = {
    "ranked": ("round", "success"),
    "best": ("heavy", "success"),
    "chosen": ("heavy", "success"),
    "rejected": ("round", "error"),
    "written": ("double", "primary"),  # not the accent: that marks the card the keys act on
}
EMPTY_ANSWER = "(empty answer)"


class CandidateCard(VerticalScroll, can_focus=True):
    DEFAULT_CSS = """
    CandidateCard { border: round $panel-lighten-2; padding: 0 1; height: 1fr; min-height: 3; }
    CandidateCard:focus { border: round $accent; background: $boost; }
    CandidateCard > Static { width: 1fr; }
    CandidateCard.-cursor { border-title-style: bold reverse; }
    """

    def __init__(self, position: int, label: str) -> None:
        super().__init__(classes="candidate")
        self.position = position
        self.label = label
        self.text_length = 0
        self._marks: tuple | None = None  # what the border shows now: unchanged marks are not repainted
        self._cursor = False  # rate and thumbs mode: the card the keys act on
        self._cursor_mode = False  # rate and thumbs mode: the keys' card is focused, ↓ and tab move between cards
        self._title: tuple | None = None  # what the title shows now

    def compose(self):
        yield Static(classes="candidate-body")

    def on_mount(self) -> None:
        self.refresh_title()

    def lines_below(self) -> int:
        """Lines of text below the card's lower border (0 when all of it shows)."""
        return max(0, round(self.max_scroll_y - self.scroll_y))

    def refresh_title(self) -> None:
        """The label, and whether the text goes on below and how to scroll it."""
        below, focused = self.lines_below(), self.has_focus
        if self._title == (self._cursor, below, focused):
            return
        self._title = (self._cursor, below, focused)
        title = f"▶ {self.label} ◀" if self._cursor else self.label
        if below:
            if self._cursor_mode:
                how = ": pgdn" if focused else ""
            else:
                how = ": ↓ pgdn" if focused else ": tab, ↓"
            title += f" · ↓ {below} more line{'s' if below != 1 else ''}{how}"
        elif focused and not self._cursor_mode:  # in rate and thumbs mode ▶ ◀ marks it
            title += " · focused"
        self.border_title = Content(title)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) != round(new_value):
            self.refresh_title()

    def on_resize(self) -> None:
        self.call_after_refresh(self.refresh_title)

    def on_focus(self) -> None:
        self.call_after_refresh(self.refresh_title)  # has_focus is set after this handler

    def on_blur(self) -> None:
        self.call_after_refresh(self.refresh_title)

    @property
    def body(self) -> Static:
        return self.query_one(".candidate-body", Static)

    def show(self, candidate: Candidate, limit: int | None, expand_key: str = "e", markdown: bool = False) -> None:
        self.show_text(candidate.text, limit, expand_key, markdown)

    def show_text(self, text: str, limit: int | None, expand_key: str = "e", markdown: bool = False) -> None:
        self.text_length = len(text)
        if text.strip():
            self.body.update(render_untrusted(text, limit, expand_key, markdown))
        else:  # nothing, or only spaces and newlines: say so rather than show a blank card
            blank = "" if not text else f" ({len(text)} blank character{'s' if len(text) != 1 else ''})"
            self.body.update(Text(EMPTY_ANSWER + blank, style="dim italic", end=""))
        self.scroll_home(animate=False)
        self.call_after_refresh(self.refresh_title)  # once the new text is laid out

    def show_cursor(self, on: bool) -> None:
        """Rate and thumbs mode: the card the keys act on has a marked title."""
        self._cursor_mode = True
        if self.has_class("-cursor") == on:
            return
        self.set_class(on, "-cursor")
        self._cursor = on
        self.refresh_title()

    def show_mark(self, text: str, mark: str = "") -> None:
        """A subtitle and a border of MARK_BORDERS ('' for none): ratings, thumbs."""
        if self._marks == ("mark", text, mark):
            return
        self._marks = ("mark", text, mark)
        self.border_subtitle = Content(text) if text else None
        self._set_mark_border(mark)

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


class WrittenCard(CandidateCard):
    """The annotator's own written answer, after the candidates; `w` edits it."""

    def __init__(self, position: int, label: str = "✎ your answer") -> None:
        super().__init__(position, label)

    def show_written(self, text: str, rank: int, candidates: int, edit_key: str, limit: int | None) -> None:
        self.show_text(text, limit)
        self.show_mark(f"{written_place(rank, candidates)} · {edit_key}: edit", "written")
