"""The Typer application every command module registers on, and shared options.

Command modules keep heavy imports (textual, torch) inside their functions so that
`rlhf-tui --help` stays instant and an annotator's machine never needs torch."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(
    name="rlhf-tui",
    help="Collect human preference rankings in the terminal; export them; train reward models and DPO policies.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)

console = Console()
err_console = Console(stderr=True)

StoreOption = typer.Option(
    None,
    "--store",
    help="The DuckDB store file (default: $RLHF_TUI_STORE, else ./rlhf.duckdb).",
    show_default=False,
)


def open_client_store(store: Path | None):
    """The store for a command: the running `rlhf-tui serve` when there is one, else the file in-process."""
    from store.connect import connect_store

    return connect_store(store)
