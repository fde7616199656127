"""The editor for the annotator's own answer (`w`, on datasets with written_answers): a
text area that starts with the best candidate's text (or the answer written before, or
nothing), and the answer's rank among the candidates, 1 (better than every one) unless
the annotator says otherwise. ctrl+s saves, escape cancels; saving it empty removes it.

Candidate texts come from files: the editor only ever holds them neutralised (escape
sequences, control and invisible characters as visible stand-ins), pasted text too,
because the text area draws what it holds as it is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, TextArea

from rlhf_tui.app.keymap import DIALOG_BINDINGS, WRITTEN_BINDINGS, first_key
from rlhf_tui.app.safe_text import neutralise


@dataclass(frozen=True)
class WrittenAnswer:
    text: str  # "" removes the written answer
    rank: int  # among the candidates: 1 = better than every one, candidates + 1 = below them all


class WrittenAnswerScreen(ModalScreen[WrittenAnswer | None]):
    BINDINGS: ClassVar[list[BindingType]] = [*WRITTEN_BINDINGS, *DIALOG_BINDINGS]
    DEFAULT_CSS = """
    WrittenAnswerScreen { align: center middle; }
    WrittenAnswerScreen > Vertical { width: 90%; max-width: 120; height: 85%; border: round $accent;
                                     background: $surface; padding: 0 1; }
    WrittenAnswerScreen TextArea { height: 1fr; }
    WrittenAnswerScreen #written-rank-row { height: auto; }
    WrittenAnswerScreen #written-rank-row Label { width: auto; padding: 1 1 0 0; }
    WrittenAnswerScreen #written-rank-row #written-rank-hint { width: 1fr; color: $text-muted; }
    WrittenAnswerScreen #written-rank { width: 8; }
    WrittenAnswerScreen #written-error { color: $error; height: auto; }
    """

    def __init__(self, text: str, rank: int, candidates: int, keymap: dict[str, str] | None = None) -> None:
        super().__init__()
        self.start_text = neutralise(text)
        self.start_rank = rank
        self.candidates = candidates
        self.keymap = keymap or {}

    def compose(self):
        save = first_key("dialog.save_written", self.keymap)
        with Vertical() as box:
            box.border_title = Content("Your answer")
            box.border_subtitle = Content(f"{save}: save · tab: its rank · esc: cancel · saved empty: removed")
            yield TextArea(self.start_text, id="written-text", soft_wrap=True, tab_behavior="focus")
            with Horizontal(id="written-rank-row"):  # fits 80 columns: the field never leaves the screen
                yield Label(Content("Its rank:"), id="written-rank-label")
                yield Input(str(self.start_rank), id="written-rank", restrict=r"[0-9]*", max_length=2)
                yield Label(
                    Content(
                        f"among the {self.candidates} candidates: 1 = better than all of them, "
                        f"{self.candidates + 1} = below them all"
                    ),
                    id="written-rank-hint",
                )
            yield Label("", id="written-error")

    def on_mount(self) -> None:
        area = self.query_one("#written-text", TextArea)
        area.focus()
        area.move_cursor(area.document.end)

    @on(TextArea.Changed, "#written-text")
    def keep_it_safe(self, event: TextArea.Changed) -> None:
        area = event.text_area
        safe = neutralise(area.text)
        if safe != area.text:  # pasted escape sequences or invisible characters: their stand-ins
            cursor = area.cursor_location
            area.load_text(safe)
            area.move_cursor(cursor)

    @on(Input.Submitted, "#written-rank")
    def rank_entered(self, event: Input.Submitted) -> None:
        self.action_save()

    def action_save(self) -> None:
        rank_text = self.query_one("#written-rank", Input).value.strip()
        rank = int(rank_text) if rank_text.isdigit() else 0
        if not 1 <= rank <= self.candidates + 1:
            self.query_one("#written-error", Label).update(
                Content(f"The rank must be a number from 1 to {self.candidates + 1}.")
            )
            self.query_one("#written-rank", Input).focus()
            return
        self.dismiss(WrittenAnswer(self.query_one("#written-text", TextArea).text.strip("\n"), rank))

    def action_cancel(self) -> None:
        self.dismiss(None)
