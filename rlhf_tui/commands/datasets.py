"""`rlhf-tui datasets`: the list with progress, and rename, archive, restore, delete (admins). No SQL here.

Dataset names come from imported files and other users: everything printed goes through
`terminal_text.plain`, so no escape sequence reaches the terminal and nothing is read as markup."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.text import Text

from rlhf_tui.cli_app import StoreOption, app, console, open_client_store
from rlhf_tui.terminal_text import plain

if TYPE_CHECKING:  # rich's tables load only in the commands that use them
    from rich.console import JustifyMethod
    from rich.table import Table


def datasets_table(summaries, queues: dict | None = None) -> Table:
    """The datasets with their progress and, when `queues` (name → QueueInfo) is given, how each queue is ordered."""
    from rich.table import Table

    table = Table(title=Text("Datasets"))
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("name", "left"),
        ("task", "left"),
        ("records", "right"),
        ("per record", "right"),
        ("submitted", "right"),
        ("complete", "right"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify)
    if queues is not None:
        table.add_column("queue")
    for d in summaries:
        cells = [
            plain(d.name),
            plain(d.task),
            Text(f"{d.records:,}"),
            Text(str(d.annotators_per_record)),
            Text(f"{d.submissions:,}"),
            Text(f"{d.percent_complete:.1f}%"),
        ]
        if queues is not None:
            cells.append(plain(queues[d.name].strategy) if d.name in queues else Text(""))
        table.add_row(*cells)
    return table


datasets_app = typer.Typer(
    help="List the datasets with their progress; rename, archive, restore or delete one (admins).",
    invoke_without_command=True,
    no_args_is_help=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(datasets_app, name="datasets")


@datasets_app.callback()
def datasets_command(
    ctx: typer.Context,
    show_all: bool = typer.Option(False, "--all", help="Also list archived datasets."),
    store: Path | None = StoreOption,
) -> None:
    """List the datasets with their progress (archived ones with --all).

    Admins: `datasets rename OLD NEW`, `datasets archive NAME` (hidden from the pickers, nothing
    removed), `datasets restore NAME`, `datasets delete NAME` (asks first)."""
    if ctx.invoked_subcommand is not None:
        return
    with open_client_store(store) as s:
        summaries = s.list_datasets(include_archived=show_all)
        hidden = 0 if show_all else len(s.list_datasets(include_archived=True)) - len(summaries)
        queues = {d.name: s.queue_info(d.name) for d in summaries}
    if not summaries:
        console.print(Text("The store has no datasets yet; add one with `rlhf-tui import FILE --dataset NAME`."))
    else:
        console.print(datasets_table(summaries, queues))
    for name, queue in queues.items():  # the scorer, under the table: names can be long
        if queue.strategy == "uncertain":
            console.print(plain(f"{name}: {queue.describe()}", one_line=True), soft_wrap=True)
    if hidden:
        console.print(Text(f"{hidden} archived dataset(s) not shown; `rlhf-tui datasets --all` lists them."))


@datasets_app.command("rename")
def rename_dataset_command(
    name: str = typer.Argument(..., help="The dataset's name now.", show_default=False),
    new_name: str = typer.Argument(..., help="Its new name.", show_default=False),
    store: Path | None = StoreOption,
) -> None:
    """Give a dataset a new name; its records, answers and settings stay (admins)."""
    with open_client_store(store) as s:
        info = s.rename_dataset(name, new_name)
    console.print(plain(f"renamed {name!r} to {info.name!r}", one_line=True), soft_wrap=True)


@datasets_app.command("archive")
def archive_dataset_command(
    name: str = typer.Argument(..., help="The dataset to archive.", show_default=False),
    store: Path | None = StoreOption,
) -> None:
    """Hide a dataset from the annotators' pickers and the list; everything in it is kept (admins)."""
    with open_client_store(store) as s:
        s.archive_dataset(name, True)
    console.print(
        plain(f"archived {name!r}: hidden from the pickers, nothing removed (`datasets restore` shows it again)"),
        soft_wrap=True,
    )


@datasets_app.command("restore")
def restore_dataset_command(
    name: str = typer.Argument(..., help="The archived dataset to show again.", show_default=False),
    store: Path | None = StoreOption,
) -> None:
    """Show an archived dataset in the pickers and the list again (admins)."""
    with open_client_store(store) as s:
        s.archive_dataset(name, False)
    console.print(plain(f"restored {name!r}: annotators see it again", one_line=True), soft_wrap=True)


@datasets_app.command("delete")
def delete_dataset_command(
    name: str = typer.Argument(..., help="The dataset to delete.", show_default=False),
    yes: int = typer.Option(
        0,
        "--yes",
        "-y",
        count=True,
        help="Do not ask. A dataset holding answers needs it twice (-y -y): its answers are deleted too.",
    ),
    store: Path | None = StoreOption,
) -> None:
    """Delete a dataset and everything in it, after saying what that removes (admins).

    Asks first. A dataset with answers asks for its name to be typed (or -y twice); to hide a
    dataset and keep its answers, `datasets archive` it instead."""
    from store.errors import InvalidInputError

    with open_client_store(store) as s:
        contents = s.dataset_contents(name)
        console.print(plain(f"deleting {name!r} removes {contents.describe()}.", one_line=True), soft_wrap=True)
        told_twice = yes >= 2
        if contents.answers and not told_twice:
            if yes == 1 or not sys.stdin.isatty():
                raise InvalidInputError(
                    f"{name!r} holds {contents.answers:,} answers: give -y twice (-y -y) to delete them with it, "
                    f"or `rlhf-tui datasets archive {name}` to hide it and keep them"
                )
            typed = typer.prompt(f"It holds {contents.answers:,} answers. Type its name to delete them with it")
            if typed != name:
                raise InvalidInputError(f"{typed!r} is not {name!r}; nothing was deleted")
            told_twice = True
        elif not yes:
            if not sys.stdin.isatty():
                raise InvalidInputError("nothing was deleted: give -y to delete without being asked")
            if not typer.confirm("Delete it?", default=False):
                raise InvalidInputError("nothing was deleted")
        removed = s.delete_dataset(name, with_answers=told_twice)
    console.print(plain(f"deleted {name!r}: {removed.describe()}", one_line=True), soft_wrap=True)
