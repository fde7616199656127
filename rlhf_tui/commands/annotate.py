"""`rlhf-tui annotate`: the Textual annotation app on a store."""

from __future__ import annotations

import getpass
from pathlib import Path

import typer

from rlhf_tui.cli_app import StoreOption, app, err_console, open_client_store


@app.command()
def annotate(
    dataset: str | None = typer.Option(
        None, "--dataset", help="The dataset to annotate (default: choose from a list).", show_default=False
    ),
    annotator: str | None = typer.Option(
        None, "--annotator", help="Your annotator name (default: your OS user name).", show_default=False
    ),
    store: Path | None = StoreOption,
) -> None:
    """Rank candidate answers (or pick the better of two) with the keyboard.

    Press ? in the app for every key. Keys are remapped by binding id in the config
    file: $RLHF_TUI_CONFIG, else ~/.config/rlhf-tui/config.toml ([keymap] table)."""
    from rlhf_tui.app import ConfigError, load_config, run_annotation_app

    try:
        config = load_config()
    except ConfigError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    who = annotator or getpass.getuser()
    opened = open_client_store(store)
    try:
        if dataset is not None:
            opened.get_dataset(dataset)  # an unknown name is a one-line error, before the screen switches
        run_annotation_app(opened, dataset, who, config)
    finally:
        opened.close()
