"""`rlhf-tui review`: the review and adjudication app on a dataset's disputed records."""

from __future__ import annotations

import getpass
from enum import StrEnum
from pathlib import Path

import typer

from rlhf_tui.cli_app import StoreOption, app, open_client_store

ReviewOrder = StrEnum(  # type: ignore[misc]
    "ReviewOrder", {name: name for name in ("disputed", "annotator", "commented", "model-disagrees")}
)


@app.command()
def review(
    dataset: str = typer.Option(..., "--dataset", "-d", help="The dataset to review."),
    order: ReviewOrder | None = typer.Option(
        None,
        "--order",
        help="disputed (most different answers first; the default), annotator (the records --annotator "
        "answered), commented (only records with a comment), or model-disagrees (first the records where all "
        "annotators agree and the reward model does not, then those where a confident model and one annotator "
        "disagree; then the rest, most disputed first).",
        show_default=False,
    ),
    annotator: str | None = typer.Option(
        None, "--annotator", help="With --order annotator (implied): review the records this annotator answered."
    ),
    store: Path | None = StoreOption,
) -> None:
    """Review records with two or more answers and set the final answer (admins).

    Shows the candidates once and every annotator's ranking or choice, time and comment side
    by side. Digits pick an annotator's row and enter accepts it; r gives your own ranking or
    choice; c a note; g marks gold; n/p (→/←) move on and back. A reviewed record is amended
    the same way, its history kept. Press ? in the app for every key and its binding id."""
    from rlhf_tui.app import load_config
    from rlhf_tui.app.review import run_review_app
    from store.errors import InvalidInputError, PermissionDeniedError

    chosen = order.value if order is not None else ("annotator" if annotator else "disputed")
    if chosen == "annotator" and not annotator:
        raise InvalidInputError("--order annotator needs --annotator WHO")
    if annotator and chosen != "annotator":
        raise InvalidInputError(f"--annotator goes with --order annotator, not --order {chosen}")
    config = load_config()  # a ConfigError is a UserError: one line from the CLI, exit 1
    opened = open_client_store(store)
    try:
        caller = opened.caller()
        if caller.user is not None:  # over the service: the name the kernel vouched for
            reviewer = caller.user
            if not caller.admin:  # the service refuses every review call; say so before the screen opens
                raise PermissionDeniedError(
                    f"review is for admins, and {reviewer} is not one; ask the service's owner to add you "
                    "with `rlhf-tui serve --admin USER`"
                )
        else:
            reviewer = getpass.getuser()
        opened.get_dataset(dataset)  # an unknown name is a one-line error, before the screen opens
        status = run_review_app(opened, dataset, reviewer, chosen, annotator, config)
    finally:
        opened.close()
    if status:
        raise typer.Exit(status)
