"""`rlhf-tui annotate`: the Textual annotation app on a store."""

from __future__ import annotations

import getpass
from pathlib import Path

import typer

from rlhf_tui.cli_app import StoreOption, app, open_client_store


@app.command()
def annotate(
    dataset: str | None = typer.Option(
        None, "--dataset", "-d", help="The dataset to annotate (default: choose from a list).", show_default=False
    ),
    annotator: str | None = typer.Option(
        None, "--annotator", help="Your annotator name (default: your OS user name).", show_default=False
    ),
    store: Path | None = StoreOption,
) -> None:
    """Rank candidate answers, pick the better of two, rate them on the dataset's axes or
    give each a thumb up or down, with the keyboard (the dataset's task decides which).

    Where the dataset takes written answers, w writes your own; / goes to a record by its
    id from the file. Press ? in the app for every key. Keys are remapped by binding id in
    the config file: $RLHF_TUI_CONFIG, else ~/.config/rlhf-tui/config.toml ([keymap] table)."""
    from rlhf_tui.app import load_config, run_annotation_app
    from store.errors import PermissionDeniedError

    config = load_config()  # a ConfigError is a UserError: one line from the CLI, exit 1
    opened = open_client_store(store)
    try:
        caller = opened.caller()
        if caller.user is not None:  # over the service: the name the kernel vouched for
            who = annotator or caller.user
            if who != caller.user:
                raise PermissionDeniedError(
                    f"you are connected to the store service as {caller.user}; you cannot annotate as {who} "
                    "(the service takes your name from the operating system)"
                )
        else:
            who = annotator or getpass.getuser()
        if dataset is not None:
            opened.get_dataset(dataset)  # an unknown name is a one-line error, before the screen switches
        status = run_annotation_app(opened, dataset, who, config)
    finally:
        opened.close()
    if status:
        raise typer.Exit(status)
