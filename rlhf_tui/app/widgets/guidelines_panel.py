"""The dataset's guidelines as Markdown in a side panel. Guidelines come from imported
files, so they are neutralised first (controls, bidi) and links are never opened:
Textual's Markdown widget builds its text from tokens and does not parse Rich markup."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Markdown

from rlhf_tui.app.safe_text import neutralise

NO_GUIDELINES = "*This dataset has no guidelines.*"


class GuidelinesPanel(VerticalScroll, can_focus=True):
    DEFAULT_CSS = """
    GuidelinesPanel { width: 45%; min-width: 30; border: round $accent; display: none; }
    GuidelinesPanel.-open { display: block; }
    """

    def __init__(self, guidelines: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.guidelines = guidelines
        self._rendered = False

    def on_mount(self) -> None:
        self.border_title = Content("Guidelines")

    async def toggle(self) -> bool:
        """Open or close the panel; the Markdown is built the first time it opens."""
        if not self._rendered:
            self._rendered = True
            await self.mount(Markdown(neutralise(self.guidelines) or NO_GUIDELINES, open_links=False))
        self.toggle_class("-open")
        is_open = self.has_class("-open")
        if is_open:
            self.focus()
        return is_open
