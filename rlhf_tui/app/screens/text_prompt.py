"""A one-line text question in a pop-up: the comment on a record, the reason for a
discard. Enter answers (an empty answer is allowed), escape cancels (None)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.binding import BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from rlhf_tui.app.keymap import DIALOG_BINDINGS


class TextPromptScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [*DIALOG_BINDINGS]
    DEFAULT_CSS = """
    TextPromptScreen { align: center middle; }
    TextPromptScreen > Vertical { width: 80%; max-width: 100; height: auto; border: round $accent;
                                  background: $surface; padding: 0 1; }
    TextPromptScreen Label { width: 1fr; }
    """

    def __init__(self, title: str, question: str, value: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.value = value

    def compose(self):
        with Vertical() as box:
            box.border_title = Content(self.title_text)
            box.border_subtitle = Content("enter: save · esc: cancel")
            yield Label(Content(self.question))
            yield Input(value=self.value, id="answer")

    def on_mount(self) -> None:
        self.query_one("#answer", Input).focus()

    @on(Input.Submitted, "#answer")
    def answer(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
