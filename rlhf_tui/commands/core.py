"""Core commands: import, export, settings, stats, demo (`datasets` has its own module). No SQL here.

Names, column names and rows come from imported files: everything printed goes through
`terminal_text.plain`, so no escape sequence reaches the terminal and nothing is read as markup."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.text import Text

from rlhf_tui.cli_app import StoreOption, app, console, err_console, open_client_store
from rlhf_tui.terminal_text import plain

if TYPE_CHECKING:  # importlib.resources loads only in the commands that use it
    from importlib.resources.abc import Traversable


from store.names import AGGREGATIONS, EXPORT_FORMATS, FALLBACKS, IMPORT_FORMATS, STRATEGIES, TASK_KINDS

SAMPLE_DATA_PACKAGE = "rlhf_tui.sample_data"


# Typer's choices, built from the store's one list of each kind of name.
Task = StrEnum("Task", {name: name for name in TASK_KINDS})  # type: ignore[misc]
ImportFormat = StrEnum("ImportFormat", {name: name for name in ("auto", *IMPORT_FORMATS)})  # type: ignore[misc]
ExportFormat = StrEnum("ExportFormat", {name: name for name in EXPORT_FORMATS})  # type: ignore[misc]
Aggregate = StrEnum("Aggregate", {name: name for name in AGGREGATIONS})  # type: ignore[misc]
Fallback = StrEnum("Fallback", {name: name for name in FALLBACKS})  # type: ignore[misc]
Strategy = StrEnum("Strategy", {name: name for name in STRATEGIES})  # type: ignore[misc]


def _read_guidelines(path: Path | Traversable | None) -> str | None:
    from store.errors import InvalidInputError

    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: no such guidelines file") from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"{path}: the guidelines are not valid UTF-8") from None
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read the guidelines ({exc.strerror})") from None


@app.command("import")
def import_command(
    path: Path = typer.Argument(
        ..., help="JSONL, JSON (array), Parquet or CSV file.", show_default=False, metavar="FILE"
    ),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset to import into (created if new)."),
    task: Task | None = typer.Option(
        None,
        "--task",
        help="rank (2-9 candidates), pair (exactly 2), rate (every candidate on the dataset's axes) or thumbs "
        "(each candidate good or bad). Default: pair for trl/hh data, rate for rated data, else rank.",
    ),
    fmt: ImportFormat = typer.Option(
        ImportFormat("auto"),
        "--format",
        help="Input format; auto detects it from the columns. sfb-axis: summarize-from-feedback's axis rows "
        "(one rated summary per row), one record per post, a rate dataset.",
    ),
    guidelines: Path | None = typer.Option(None, "--guidelines", help="Markdown file with the annotation guidelines."),
    annotators_per_record: int | None = typer.Option(
        None, "--annotators-per-record", "-k", help="How many annotators should answer each record (default 1)."
    ),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Import the good rows and list the rejected ones."),
    keep_labels: str | None = typer.Option(
        None,
        "--keep-labels",
        help="Keep the file's labels. trl/hh: the choice as a submitted answer by this annotator, or with "
        "'gold' as gold reviews that score each annotator's accuracy. ultrafeedback: the fine-grained ratings "
        "as this annotator's answers (a rate dataset). sfb-axis: each worker's ratings as that worker's answers "
        "(this name where a row has no worker). Names from a file are recorded as import:NAME, apart from the "
        "annotators.",
    ),
    strategy: Strategy | None = typer.Option(
        None,
        "--strategy",
        help="Who gets which record: fill (records with some answers first, so overlap completes early; "
        "the default when -k > 1), spread (the fewest answers first) or uncertain (as fill, but the records "
        "the reward model cannot separate first; see `rlhf-tui score`).",
    ),
    calibration: int | None = typer.Option(
        None, "--calibration", help="The first M records go to every annotator (reported apart in agreement)."
    ),
    axes: Path | None = typer.Option(
        None, "--axes", help="rate task: a TOML file of [[axis]] tables (name, low, high, guidance, overall)."
    ),
    written_answers: bool | None = typer.Option(
        None, "--written-answers/--no-written-answers", help="Annotators may write their own answer (w)."
    ),
    store: Path | None = StoreOption,
) -> None:
    """Import prompts and candidate responses. Re-importing the same file adds nothing.

    The line at the end names the dataset's task, its annotators per record and how records are
    handed out; a dataset made by mistake can be renamed, archived or deleted (`rlhf-tui datasets`)."""
    text = _read_guidelines(guidelines)
    settings = _assignment_settings(strategy, calibration)
    if axes is not None:
        settings["axes"] = read_axes(axes)
    if written_answers is not None:
        settings["written_answers"] = written_answers
    from store.dataset_settings import check_settings

    check_settings(settings)  # before anything is imported
    with open_client_store(store, create=True) as s:
        report = s.import_file(
            path,
            dataset=dataset,
            task=task.value if task else None,
            fmt=fmt.value,
            guidelines=text,
            annotators_per_record=annotators_per_record,
            skip_invalid=skip_invalid,
            keep_labels=keep_labels,
            settings=settings or None,
        )
        info = s.get_dataset(dataset)
        records = _records_in(s, dataset)
    for line in report.rejected:
        err_console.print(plain(f"skipped {line}", one_line=True), soft_wrap=True)
    summary = (
        f"{report.file}: {report.rows_read} rows read as {report.format}; {report.added} new records in "
        f"{report.dataset!r}, {report.already_present} already present"
    )
    if report.rejected:
        summary += f", {len(report.rejected)} rejected"
    if report.labels_recorded and keep_labels:
        from store.io.formats import imported_labeller

        # Imported labellers are named apart from the annotators (import:NAME), so say the name used.
        who = "gold reviews" if keep_labels == "gold" else f"answers of {imported_labeller(keep_labels)!r}"
        if report.format == "sfb-axis":
            who = f"each worker's answers (as {imported_labeller('WORKER')!r}; {imported_labeller(keep_labels)!r} without one)"
        summary += f", {report.labels_recorded} existing labels recorded as {who}"
    console.print(plain(summary + ".", one_line=True), soft_wrap=True)
    console.print(plain(dataset_line(info, chosen=task is None), one_line=True), soft_wrap=True)
    if report.hh_common_prefix_rows:
        console.print(
            plain(
                f"{report.hh_common_prefix_rows} rows' transcripts differ before the final reply: read as TRL reads "
                "them, the shared text up to the last Assistant turn as the prompt and the rest of each as its reply.",
                one_line=True,
            ),
            soft_wrap=True,
        )
    for warning in setting_warnings(info, records):
        err_console.print(plain(f"warning: {warning}", one_line=True), soft_wrap=True)


def _records_in(s, dataset: str) -> int:
    return next((d.records for d in s.list_datasets(include_archived=True) if d.name == dataset), 0)


# Agreement needs two or three answers a record; far more is more often a slip of the keyboard.
MANY_ANNOTATORS = 10


def dataset_line(info, chosen: bool = False) -> str:
    """ "'d': a rank task, 2 annotators per record, assignment fill" (with what the import chose)."""
    from store.dataset_settings import assignment_of

    strategy, calibration = assignment_of(info.settings, info.annotators_per_record)
    task = f"a {info.task} task" + (" (chosen from the file; --task chooses another)" if chosen else "")
    line = f"{info.name!r}: {task}, {info.annotators_per_record} annotator(s) per record, assignment {strategy}"
    if calibration:
        line += f", the first {calibration} records to everyone (calibration)"
    return line + "."


def setting_warnings(info, records: int) -> list[str]:
    """Settings that are allowed but most likely not what was meant."""
    warnings = []
    k = info.annotators_per_record
    if k > MANY_ANNOTATORS:
        warnings.append(
            f"-k {k}: a record is complete only when {k} different annotators have answered it "
            f"(agreement needs 2 or 3); change it with `rlhf-tui settings -d {info.name} -k N`"
        )
    calibration = int(info.settings.get("calibration") or 0)
    if calibration and records and calibration >= records:
        warnings.append(
            f"--calibration {calibration} covers all {records} records of {info.name!r}: every record goes to "
            f"every annotator; change it with `rlhf-tui settings -d {info.name} --calibration M`"
        )
    return warnings


def read_axes(path: Path) -> list[dict]:
    """Rating axes from a TOML file of [[axis]] tables (name, low, high, guidance, overall, required)."""
    import tomllib

    from store.dataset_settings import check_axes
    from store.errors import InvalidInputError

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: no such axes file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path}: not a valid TOML file ({exc})") from None
    unknown = sorted(set(data) - {"axis"})
    if unknown or not isinstance(data.get("axis"), list):
        raise InvalidInputError(f"{path}: expected [[axis]] tables (name, low, high, guidance, overall)")
    try:
        return check_axes(data["axis"])
    except InvalidInputError as exc:
        raise InvalidInputError(f"{path}: {exc}") from None


def _parse_weights(text: str | None) -> dict[str, float] | None:
    """'accuracy=2,coverage=1' as {'accuracy': 2.0, 'coverage': 1.0}."""
    from store.errors import InvalidInputError

    if not text:
        return None
    weights: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            weights[name.strip()] = float(value) if sep else 1.0
        except ValueError:
            raise InvalidInputError(f"--weights: {part.strip()!r} is not AXIS=NUMBER") from None
    return weights


def _assignment_settings(strategy: StrEnum | None, calibration: int | None) -> dict:
    settings: dict[str, object] = {}
    if strategy is not None:
        settings["assignment"] = strategy.value
    if calibration is not None:
        settings["calibration"] = calibration
    return settings


@app.command("settings")
def settings_command(
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset to change."),
    strategy: Strategy | None = typer.Option(
        None,
        "--strategy",
        help="fill (complete started records first), spread (fewest answers first) or uncertain (as fill, the "
        "records whose candidates the reward model cannot separate first).",
    ),
    scorer: list[str] | None = typer.Option(
        None,
        "--scorer",
        help="uncertain: the scorer (`rlhf-tui score --scorer NAME`) that orders the queue; twice for two "
        "scorers, where they disagree most comes first. Default: the one that scored the dataset last.",
    ),
    latest_scorer: bool = typer.Option(
        False, "--latest-scorer", help="uncertain: forget --scorer; the scorer that scored last orders the queue."
    ),
    calibration: int | None = typer.Option(None, "--calibration", help="The first M records go to every annotator."),
    annotators_per_record: int | None = typer.Option(
        None, "--annotators-per-record", "-k", help="How many annotators should answer each record."
    ),
    markdown: bool | None = typer.Option(
        None, "--markdown/--literal", help="Show answers as safe Markdown, or literally (the default)."
    ),
    guidelines: Path | None = typer.Option(None, "--guidelines", help="Markdown file with new guidelines."),
    axes: Path | None = typer.Option(None, "--axes", help="rate task: a TOML file of [[axis]] tables."),
    rank_too: bool | None = typer.Option(None, "--rank-too/--no-rank-too", help="rate task: also rank the candidates."),
    written_answers: bool | None = typer.Option(
        None, "--written-answers/--no-written-answers", help="Annotators may write their own answer (w)."
    ),
    show_written: bool | None = typer.Option(
        None,
        "--show-written/--hide-written",
        help="Written answers may become normal candidates for the others (see promote-written).",
    ),
    model_after_submit: bool | None = typer.Option(
        None,
        "--model-after-submit/--no-model-after-submit",
        help="Once an annotator submits a record, show them the reward model's ranking of it (calibration "
        "sessions); never before they answer.",
    ),
    store: Path | None = StoreOption,
) -> None:
    """Change a dataset's settings (admins); with no option, print them."""
    settings = _assignment_settings(strategy, calibration)
    if scorer:
        settings["scorers"] = list(scorer)
    elif latest_scorer:
        settings["scorers"] = None
    for key, value in (
        ("markdown", markdown),
        ("rank_too", rank_too),
        ("written_answers", written_answers),
        ("show_written", show_written),
        ("model_after_submit", model_after_submit),
    ):
        if value is not None:
            settings[key] = value
    if axes is not None:
        settings["axes"] = read_axes(axes)
    text = _read_guidelines(guidelines)
    with open_client_store(store) as s:
        if settings or annotators_per_record is not None or text is not None:
            info = s.update_dataset(dataset, text, annotators_per_record, settings or None)
            warnings = setting_warnings(info, _records_in(s, dataset))
        else:
            info = s.get_dataset(dataset)
            warnings = []
        queue = s.queue_info(dataset)
    from store.dataset_settings import assignment_of

    strategy_now, calibration_now = assignment_of(info.settings, info.annotators_per_record)
    console.print(
        plain(
            f"{info.name}: {info.task} task, {info.annotators_per_record} annotator(s) per record, "
            f"assignment {queue.describe() if strategy_now == 'uncertain' else strategy_now}, "
            f"{calibration_now} calibration records, "
            f"answers shown {'as Markdown' if info.settings.get('markdown') else 'literally'}"
            + (", written answers allowed" if info.settings.get("written_answers") else "")
            + (", the model's answer shown after submitting" if info.settings.get("model_after_submit") else "")
            + (
                ", written answers may be shown to the others (promote-written)"
                if info.settings.get("show_written")
                else ""
            ),
            one_line=True,
        )
    )
    for axis in info.settings.get("axes") or []:
        console.print(
            plain(
                f"  axis {axis['name']}: {axis['low']}-{axis['high']}"
                + (" (overall)" if axis.get("overall") else "")
                + ("" if axis.get("required", True) else " (optional)")
                + (f" - {axis['guidance']}" if axis.get("guidance") else ""),
                one_line=True,
            )
        )
    for warning in warnings:
        err_console.print(plain(f"warning: {warning}", one_line=True), soft_wrap=True)


@app.command("promote-written")
def promote_written_command(
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset whose written answers to promote."),
    store: Path | None = StoreOption,
) -> None:
    """Add the annotators' written answers to their records' candidates (admins; needs --show-written).

    Run it between rounds: the others then rank the written answers like any candidate."""
    with open_client_store(store) as s:
        added = s.promote_written(dataset)
    console.print(plain(f"{added} written answers added as candidates in {dataset!r}", one_line=True))


@app.command("export")
def export_command(
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset to export."),
    out: Path = typer.Option(..., "--out", "-o", help="Output file: .parquet (default choice) or .jsonl."),
    fmt: ExportFormat = typer.Option(
        ExportFormat("preference"),
        "--format",
        help="annotations (every answer), preference (TRL prompt/chosen/rejected pairs), kto, or sft.",
    ),
    aggregate: Aggregate = typer.Option(
        Aggregate("all"),
        "--aggregate",
        help="Pairs from several annotators: all (each annotator's pairs), majority (one label per pair), "
        "borda (one consensus ranking per record), adjudicated (the reviewer's answer where there is one, "
        "else --fallback).",
    ),
    fallback: Fallback = typer.Option(
        Fallback("majority"), "--fallback", help="With --aggregate adjudicated: records without a review."
    ),
    weights: str | None = typer.Option(
        None,
        "--weights",
        help="rate datasets: score candidates by a weighted sum of axes, e.g. accuracy=2,coverage=1 "
        "(default: the overall axis). Equal scores give no pair; margin = the score gap.",
    ),
    threshold: float | None = typer.Option(
        None, "--threshold", help="kto from ratings: a candidate is desirable when its score reaches this."
    ),
    store: Path | None = StoreOption,
) -> None:
    """Export annotations or training data to Parquet or JSONL."""
    from store.io.export import folder_warning
    from store.types import ExportOptions

    parsed = _parse_weights(weights)
    if warning := folder_warning(out):
        err_console.print(plain(warning, one_line=True), soft_wrap=True)
    with open_client_store(store) as s:
        count = s.export(dataset, out, ExportOptions(fmt.value, aggregate.value, fallback.value, parsed, threshold))
    console.print(plain(f"wrote {count} {fmt.value} rows to {out}", one_line=True), soft_wrap=True)
    if count == 0:
        err_console.print(plain(f"warning: {dataset!r} has no submitted answers to export yet", one_line=True))


@app.command("stats")
def stats_command(
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset to summarise."),
    agreement: bool = typer.Option(
        False, "--agreement", help="Also inter-annotator agreement on the records answered by two or more people."
    ),
    scorer: str | None = typer.Option(
        None,
        "--scorer",
        help="With --agreement: the reward model's scores (`rlhf-tui score --scorer NAME`) compared as one more "
        "rater. Default: the scorer that scored the dataset last.",
    ),
    store: Path | None = StoreOption,
) -> None:
    """Answers in a dataset, counted by annotator and status; optionally agreement figures.

    With --agreement on a scored dataset, the reward model is one more rater: each annotator's
    agreement with it, its blind spots and the labels to look at again, by record id."""
    from store.stats.agreement import AgreementReport, AxisAgreement, compute_agreement, rating_agreement
    from store.stats.model_rater import ModelAgreement, model_agreement, model_answers

    reports: list[tuple[str, AgreementReport, dict[int, str]]] = []
    axes: tuple[AxisAgreement, ...] | None = None
    model_report: tuple[ModelAgreement, dict[int, str]] | None = None
    with open_client_store(store) as s:
        info = s.get_dataset(dataset)
        counts = s.status_counts(dataset)
        summary = next(d for d in s.list_datasets(include_archived=True) if d.name == dataset)
        overfilled = s.overfilled_records(dataset)
        if agreement and info.task in ("rate", "thumbs"):
            axes = rating_agreement(s.submitted_ratings(dataset))
        elif agreement:
            rankings = s.submitted_rankings(dataset)
            reviews = s.reviews(dataset)
            # The calibration records (answered by everyone) are reported apart from the rest.
            calibration = int(info.settings.get("calibration") or 0)
            first = set(s.record_ids(dataset, 0, calibration)) if calibration else set()
            parts = [("Agreement", [r for r in rankings if r[0] not in first])]
            if first:
                title = f"Agreement on the {calibration} calibration records"
                parts.insert(0, (title, [r for r in rankings if r[0] in first]))
            for title, subset in parts:
                report = compute_agreement(info.task, subset, reviews=reviews)
                reports.append((title, report, s.external_ids([d.record_id for d in report.disputed])))
            # The reward model as one more rater: each candidate's score gives its ranking.
            scorer = scorer or next(iter(s.dataset_scorers(dataset)), None)
            if scorer is not None:
                sizes = {record_id: len(ranks) for record_id, _, ranks, _ in rankings}
                scored = ((r, i, v) for r, i, _, v in s.scores(dataset, scorer))
                model = model_agreement(scorer, rankings, model_answers(scored, sizes))
                listed = [d.record_id for d in (*model.blind_spots, *model.second_looks)]
                model_report = (model, s.external_ids(listed))
    line = (
        f"{dataset}: {summary.task} task, {summary.records:,} records, {summary.annotators_per_record} "
        f"annotator(s) wanted per record, {summary.percent_complete:.1f}% complete"
    )
    if overfilled:
        line += f"; {overfilled} record(s) got more than {info.annotators_per_record} answers because a lease expired"
    console.print(plain(line, one_line=True))
    statuses = ("submitted", "draft", "discarded")
    from rich.table import Table

    table = Table(title=plain(f"Answers in {dataset}"))
    table.add_column("annotator")
    for status in statuses:
        table.add_column(status, justify="right")
    by_annotator: dict[str, dict[str, int]] = {}
    for c in counts:
        by_annotator.setdefault(c.annotator, {})[c.status] = c.count
    for annotator, row in by_annotator.items():
        table.add_row(plain(annotator), *(Text(f"{row.get(s, 0):,}") for s in statuses))
    if by_annotator:
        table.add_row(
            Text("total", style="bold"),
            *(Text(f"{sum(r.get(s, 0) for r in by_annotator.values()):,}") for s in statuses),
        )
    console.print(table)
    from rlhf_tui.agreement_view import agreement_renderables, axis_renderables

    for renderable in axis_renderables(axes) if axes is not None else ():
        console.print(renderable)
    for title, report, labels in reports:
        for renderable in agreement_renderables(report, labels, title):
            console.print(renderable)
    if model_report is not None:
        from rlhf_tui.model_view import model_renderables

        for renderable in model_renderables(*model_report, task=info.task):
            console.print(renderable)
    elif agreement and info.task in ("rank", "pair"):
        console.print(plain("No reward-model scores yet: `rlhf-tui score` adds the model as one more rater."))


def import_sample_data(s, sample_dir: Path | None = None) -> list[str]:
    """Import the sample datasets into the store, from `sample_dir` or else the data bundled as the
    package `rlhf_tui.sample_data`; return the names of the datasets imported."""
    from importlib import resources

    folder: Traversable = resources.files(SAMPLE_DATA_PACKAGE) if sample_dir is None else sample_dir
    guidelines = _read_guidelines(folder / "guidelines.md")
    imported = []
    samples = (
        ("sample-rank", "rank.jsonl", "rank"),
        ("sample-pairs", "pairs.jsonl", "pair"),
        ("sample-rate", "rate.jsonl", "rate"),
        ("sample-thumbs", "thumbs.jsonl", "thumbs"),
    )
    for name, file, task in samples:
        if not (folder / file).is_file() and task in ("rate", "thumbs"):
            continue  # an older --sample-data folder without these
        settings = None
        if task == "rate":
            with resources.as_file(folder / "rate_axes.toml") as axes:
                settings = {"axes": read_axes(axes), "written_answers": True}
        # A real file for the store to read, extracted to a temporary file if the package is zipped.
        with resources.as_file(folder / file) as path:
            s.import_file(path, dataset=name, task=task, guidelines=guidelines, settings=settings)
        imported.append(name)
    return imported


@app.command("demo")
def demo_command(
    sample_data: Path | None = typer.Option(
        None,
        "--sample-data",
        help="Folder to use instead of the bundled sample data, with rank.jsonl, pairs.jsonl and guidelines.md, "
        "and optionally rate.jsonl with rate_axes.toml, and thumbs.jsonl.",
        show_default="bundled",
    ),
    annotator: str | None = typer.Option(None, "--annotator", help="Annotator name (default: your user name)."),
    no_app: bool = typer.Option(False, "--no-app", help="Only import the sample data and list the datasets."),
    store: Path | None = StoreOption,
) -> None:
    """Import the bundled sample data into the store if it is empty, then open the annotation app."""
    import getpass

    with open_client_store(store, create=True) as s:
        if not s.list_datasets(include_archived=True):
            names = import_sample_data(s, sample_data)
            console.print(plain(f"imported the sample datasets {', '.join(names)}", one_line=True))
        if no_app:
            from rlhf_tui.commands.datasets import datasets_table

            console.print(datasets_table(s.list_datasets()))
            return
        from rlhf_tui.app import ConfigError, load_config, run_annotation_app

        try:
            config = load_config()
        except ConfigError as exc:
            err_console.print(plain(f"error: {exc}", one_line=True), soft_wrap=True)
            raise typer.Exit(1) from None
        status = run_annotation_app(s, None, annotator or getpass.getuser(), config)
    if status:
        raise typer.Exit(status)
