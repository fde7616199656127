"""The Typer application every command module registers on, and shared options.

`rlhf-tui` imports only the module of the command it runs (`COMMANDS` says which), and lists every
command from `COMMANDS` without importing any; command modules keep heavy imports (duckdb, pyarrow,
textual, torch) inside their functions. So `--help` answers at once and an annotator's machine never
needs torch."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup


@dataclass(frozen=True)
class CommandEntry:
    name: str
    module: str  # the module of rlhf_tui.commands that registers it
    summary: str  # its line in `rlhf-tui --help`: the command's own short help (a test keeps them equal)


# In the order a person looks for them: try it, bring data in, annotate, watch, review, export, run a team, train.
COMMANDS: tuple[CommandEntry, ...] = (
    CommandEntry(
        "demo", "core", "Import the bundled sample data into the store if it is empty, then open the annotation app."
    ),
    CommandEntry("import", "core", "Import prompts and candidate responses."),
    CommandEntry(
        "annotate",
        "annotate",
        "Rank candidate answers, pick the better of two, rate them on the dataset's axes or give each a thumb up or "
        "down, with the keyboard (the dataset's task decides which).",
    ),
    CommandEntry(
        "datasets",
        "datasets",
        "List the datasets with their progress; rename, archive, restore or delete one (admins).",
    ),
    CommandEntry(
        "stats", "core", "Answers in a dataset, counted by annotator and status; optionally agreement figures."
    ),
    CommandEntry("review", "review", "Review records with two or more answers and set the final answer (admins)."),
    CommandEntry("export", "core", "Export annotations or training data to Parquet or JSONL."),
    CommandEntry("settings", "core", "Change a dataset's settings (admins); with no option, print them."),
    CommandEntry(
        "promote-written",
        "core",
        "Add the annotators' written answers to their records' candidates (admins; needs --show-written).",
    ),
    CommandEntry(
        "serve", "serve", "Own the store file and serve it to every annotator on this machine over a Unix socket."
    ),
    CommandEntry("train", "train", "Train with a LoRA adapter over a 4-bit base (QLoRA): sft, reward, dpo, kto, rloo."),
    CommandEntry(
        "generate",
        "loop",
        "Sample answers to every prompt and store them as candidates of a new dataset, ready to annotate.",
    ),
    CommandEntry("score", "loop", "Score every candidate of a dataset with a reward model and store the scores."),
    CommandEntry(
        "eval",
        "loop",
        "Every policy and the reference answer every prompt; the reward model judges each pair of answers.",
    ),
)
COMMANDS_BY_NAME = {c.name: c for c in COMMANDS}


def load_commands(argv: list[str]) -> None:
    """Import the module of the command `argv` names (all of them for a name that is none of ours, so that
    the error can suggest one); nothing for `--help` or `--version` alone."""
    words = [a for a in argv if not a.startswith("-")]
    if not words:
        return
    entry = COMMANDS_BY_NAME.get(words[0])
    for module in {entry.module} if entry else {c.module for c in COMMANDS}:
        importlib.import_module(f"rlhf_tui.commands.{module}")


class CommandList(TyperGroup):
    """The top-level group: every command of `COMMANDS` listed in its order, loaded or not."""

    # (click's types are not named: typer versions differ in which click they bring)
    def list_commands(self, ctx: Any) -> list[str]:
        return [c.name for c in COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in COMMANDS_BY_NAME and cmd_name not in self.commands:
            return None  # not loaded: main() loads the command it runs before the group is built
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        limit = formatter.width - 6 - max(len(c.name) for c in COMMANDS)  # as click lists loaded commands
        with formatter.section("Commands"):
            formatter.write_dl([(c.name, _shortened(c.summary, limit)) for c in COMMANDS])


def _shortened(text: str, limit: int) -> str:
    """`text` cut at a word so that it fits `limit` characters with its "..."."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 3, 1)].rsplit(" ", 1)[0].rstrip(",;:") + "..."


def _print_version(value: bool) -> None:
    if value:
        from rlhf_tui import __version__  # the package's metadata takes its version from here too

        console.print(f"rlhf-tui {__version__}", markup=False, highlight=False)
        raise typer.Exit()


app = typer.Typer(
    name="rlhf-tui",
    cls=CommandList,
    help="Collect human preference rankings in the terminal; export them; train reward models and DPO policies.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def _top_level(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
    ),
) -> None:
    """Collect human preference rankings in the terminal; export them; train reward models and DPO policies."""


console = Console()
err_console = Console(stderr=True)

StoreOption = typer.Option(
    None,
    "--store",
    help="The store: a DuckDB file, or the socket of a team's `rlhf-tui serve` "
    "(default: $RLHF_TUI_STORE, else ./rlhf.duckdb).",
    show_default=False,
)


def open_client_store(store: Path | None, create: bool = False):
    """The store for a command: the running `rlhf-tui serve` when there is one, else the file in-process.

    Only `import` and `demo` make a new store (`create`); every other command says where a store
    is found instead of leaving an empty file behind."""
    from store.connect import connect_store

    if not create:
        _refuse_a_missing_store(store)
    return connect_store(store)


def _refuse_a_missing_store(store: Path | None) -> None:
    """A one-line error when nothing is at the store's path: no file, no socket, no service marker."""
    import os

    from store.errors import StoreNotFoundError
    from store.location import STORE_ENV_VAR, marker_path, resolve_store_path

    path = resolve_store_path(store)
    try:
        if path.exists() or path.is_symlink() or marker_path(path).exists():
            return
    except OSError:
        return  # a folder we may not enter: opening it says why, naming the group to join
    given = "--store" if store else (f"${STORE_ENV_VAR}" if os.environ.get(STORE_ENV_VAR) else "the default store")
    raise StoreNotFoundError(
        f"no store at {path} ({given}). On a team, give the team's socket: --store SOCKET, or "
        f"export {STORE_ENV_VAR}=SOCKET (ask an admin for its path, e.g. /run/rlhf-tui/team.sock); "
        "for a store of your own, `rlhf-tui import FILE -d NAME` or `rlhf-tui demo` creates one"
    )
