"""Every key of the review screen, with its binding id (for remapping in the config
file), the keys it answers to now, and what it does."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from rlhf_tui.app.review.keys import REVIEW_HELP_BINDINGS, review_binding_groups


def keys_of(binding: Binding, keymap: dict[str, str]) -> list[str]:
    keys = keymap.get(binding.id or "", binding.key)
    return [key.strip() for key in keys.split(",") if key.strip()]


class ReviewHelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [*REVIEW_HELP_BINDINGS]
    DEFAULT_CSS = """
    ReviewHelpScreen { align: center middle; }
    ReviewHelpScreen > VerticalScroll { width: 90%; max-width: 120; height: 90%; border: round $accent;
                                        background: $surface; padding: 0 1; }
    """

    def __init__(self, keymap: dict[str, str]) -> None:
        super().__init__()
        self.keymap = keymap

    def tables(self) -> Group:
        tables = []
        for place, bindings in review_binding_groups():
            table = Table(
                box=None,
                expand=True,
                show_header=False,
                pad_edge=False,
                title=Text(place),
                title_justify="left",
                title_style="bold underline",
            )
            table.add_column("keys", no_wrap=True, min_width=10)
            table.add_column("does", ratio=1)
            table.add_column("id (for the keymap)", style="dim", no_wrap=True)
            for binding in bindings:
                keys = " ".join(
                    self.app.get_key_display(binding.with_key(key)) for key in keys_of(binding, self.keymap)
                )
                table.add_row(Text(keys), Text(binding.tooltip or binding.description), Text(binding.id or ""))
            tables.append(table)
        return Group(*tables)

    def compose(self):
        with VerticalScroll(can_focus=True) as box:
            box.border_title = Content("Review keys")
            box.border_subtitle = Content("esc: close")
            yield Static(self.tables())
            yield Static(
                Text(
                    "\nAccept an annotator's answer: its row number, then enter. Your own: r, then the keys of the "
                    "annotate screen. The note (c) and gold mark (g) go with your decision, or amend a reviewed record "
                    "at once; every save is a new revision, the earlier ones are kept.",
                    end="",
                )
            )

    def action_close(self) -> None:
        self.dismiss(None)
