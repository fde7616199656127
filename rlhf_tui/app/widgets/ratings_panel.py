"""Rate mode's sheet under the candidates: one row per candidate (by the number on its
card), one column per axis (and the rank, with rank_too), the highlighted cell the keys
type into, and one line of guidance for the highlighted axis. Axis names and guidance
come from dataset settings: shown as plain text."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from rlhf_tui.app.annotate.rating_sheet import RatingSheet
from rlhf_tui.app.safe_text import neutralise


def axis_header(sheet: RatingSheet, column: int) -> Text:
    axis = sheet.columns[column]
    name = neutralise(axis.name, one_line=True)
    header = Text(name, style="bold" if column == sheet.column else "", no_wrap=True, overflow="ellipsis", end="")
    if axis.overall:
        header.append(" ★", style="bold")
    if not axis.required:
        header.append(" (optional)", style="dim")
    return header


def cell_text(sheet: RatingSheet, position: int, column: int) -> Text:
    value = sheet.value(position, column)
    at_cursor = (position, column) == (sheet.position, sheet.column)
    if at_cursor and sheet.typed:
        shown, style = f"{sheet.typed}…", "bold reverse"
    elif value is None:
        shown, style = "·", "reverse" if at_cursor else "dim"
    else:
        shown, style = str(value), "bold reverse" if at_cursor else "bold"
    return Text(f" {shown} ", style=style, justify="center", end="")


def guidance_line(sheet: RatingSheet, labels: list[str]) -> Text:
    axis = sheet.axis
    label = labels[sheet.position] if sheet.position < len(labels) else str(sheet.position + 1)
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f"▶ {label} · ", style="bold")
    line.append(neutralise(axis.name, one_line=True), style="bold")
    line.append(f" {axis.low}–{axis.high}", style="bold")
    if axis.guidance:
        line.append(": ")
        line.append(neutralise(axis.guidance, one_line=True))
    return line


def render_sheet(sheet: RatingSheet, labels: list[str]) -> Group | Text:
    if not sheet.columns:
        return Text(
            "This dataset has no rating axes: an admin sets them with `rlhf-tui settings --axes FILE.toml`.",
            style="bold red",
        )
    table = Table(box=None, padding=(0, 1), show_edge=False, expand=False, pad_edge=False)
    table.add_column("", no_wrap=True, justify="right", style="bold")
    for column in range(len(sheet.columns)):
        table.add_column(axis_header(sheet, column), no_wrap=True, overflow="ellipsis", max_width=24, justify="center")
    for position in range(sheet.size):
        label = labels[position] if position < len(labels) else str(position + 1)
        mark = "▶" if position == sheet.position else " "
        table.add_row(
            Text(f"{mark} {label}", end=""), *(cell_text(sheet, position, c) for c in range(len(sheet.columns)))
        )
    return Group(table, guidance_line(sheet, labels))


class RatingsPanel(Static):
    DEFAULT_CSS = """
    RatingsPanel { height: auto; border-top: solid $accent; padding: 0 1; }
    """

    def show(self, sheet: RatingSheet, labels: list[str]) -> None:
        self.update(render_sheet(sheet, labels))
