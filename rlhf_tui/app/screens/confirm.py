"""A yes/no question in a pop-up, before an action that changes someone else's work
(the admin's release and reopen). y or enter: yes (True); n or escape: no (False)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from rlhf_tui.app.keymap import CONFIRM_BINDINGS


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [*CONFIRM_BINDINGS]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 80%; max-width: 90; height: auto; border: round $warning;
                               background: $surface; padding: 0 1; }
    ConfirmScreen Static { width: 1fr; }
    """

    def __init__(self, title: str, question: str) -> None:
        super().__init__()
        self.title_text = title
        self.question = question  # may hold untrusted names: shown as plain text

    def compose(self):
        with Vertical() as box:
            box.border_title = Content(self.title_text)
            box.border_subtitle = Content("y: yes · n/esc: no")
            yield Static(Text(self.question, end=""), id="confirm-question")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
