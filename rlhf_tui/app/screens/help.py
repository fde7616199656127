"""Every key of the app, with its binding id (for remapping in the config file), the
keys it answers to now, and what it does."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from rlhf_tui.app.config import DEFAULT_CONFIG_PATH
from rlhf_tui.app.keymap import BUILT_IN_KEYS, HELP_BINDINGS, MODE_PLACES, all_binding_groups, keys_for


def _section(title: str) -> Table:
    table = Table(
        box=None,
        expand=True,
        show_header=False,
        pad_edge=False,
        title=title,
        title_justify="left",
        title_style="bold underline",
    )
    table.add_column("keys", no_wrap=True, min_width=10)
    table.add_column("does", ratio=1)
    table.add_column("id (for the keymap)", style="dim", no_wrap=True)
    return table


def help_tables(keymap: dict[str, str], task: str | None, key_display: Callable[[Binding], str]) -> Group:
    """One table per place keys apply: keys after the keymap, what they do, their id."""
    # On an annotate screen, the keys of its own mode only; elsewhere every mode's.
    skip = {place for mode, place in MODE_PLACES.items() if task and mode != task}
    tables = []
    for place, bindings in all_binding_groups():
        if place in skip:
            continue
        table = _section(place)
        for binding in bindings:
            keys = " ".join(key_display(binding.with_key(key)) for key in keys_for(binding, keymap))
            table.add_row(keys, binding.tooltip or binding.description, binding.id or "")
        tables.append(table)
    table = _section("Built into every screen")
    for keys, does in BUILT_IN_KEYS:
        table.add_row(keys, does, "")
    tables.append(table)
    return Group(*tables)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [*HELP_BINDINGS]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90%; max-width: 110; height: 90%; border: round $accent;
                                  background: $surface; padding: 0 1; }
    """

    def __init__(self, keymap: dict[str, str], task: str | None) -> None:
        super().__init__()
        self.keymap = keymap
        self.task_kind = task

    def compose(self):
        with VerticalScroll(can_focus=True) as box:
            box.border_title = Content("Keys")
            box.border_subtitle = Content("esc: close")
            yield Static(help_tables(self.keymap, self.task_kind, self.app.get_key_display))
            yield Static(
                Text(
                    f"\nRemap keys by id in the config file ($RLHF_TUI_CONFIG, else {DEFAULT_CONFIG_PATH}):\n"
                    '[keymap]\n"rank.tie" = "equals_sign"',
                    end="",
                )
            )

    def action_close(self) -> None:
        self.dismiss(None)
