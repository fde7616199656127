"""What the admin screen shows, read from the store in one store job: the dataset's
completion, answers per annotator and status, records over K, the submitted rankings
the agreement figures are computed from, and the team now (who holds which record,
each annotator's pace today). Over the service these reads are for admins only (blind
annotation): a refusal is kept as its one-line message."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from rlhf_tui.terminal_text import neutralise
from store import DatasetSummary, PermissionDeniedError, PreferenceStore, StatusCount
from store.clock import utcnow
from store.types import AnnotatorActivity, LeaseInfo, QueueInfo

if TYPE_CHECKING:  # the agreement module is imported only once the figures are computed
    from store.stats.agreement import Submission

STATUSES = ("submitted", "draft", "discarded")


@dataclass(frozen=True)
class AdminFigures:
    dataset: str
    summary: DatasetSummary | None
    counts: list[StatusCount] = field(default_factory=list)
    overfilled: int = 0
    rankings: list[Submission] = field(default_factory=list)
    refusal: str = ""  # the service's one-line refusal, when these figures are not ours to see
    team: list[AnnotatorActivity] = field(default_factory=list)
    leases: list[LeaseInfo] = field(default_factory=list)
    read_at: datetime | None = None  # the store's clock (naive UTC) when read: ages are counted from it
    ratings: list[tuple[int, str, tuple[tuple[int, str, float], ...]]] = field(default_factory=list)
    reviews: list[tuple[int, tuple[int, ...], bool, bool]] = field(default_factory=list)
    queue: QueueInfo | None = None  # how the queue is ordered (which scorer, for `uncertain`)


def read_admin_figures(store: PreferenceStore, dataset: str) -> AdminFigures:
    """Every store read the admin screen needs (runs in the store worker)."""
    summary = next((d for d in store.list_datasets() if d.name == dataset), None)
    queue = store.queue_info(dataset) if summary is not None else None
    try:
        counts = store.status_counts(dataset)
        overfilled = store.overfilled_records(dataset)
        rated = summary is not None and summary.task in ("rate", "thumbs")
        rankings = [] if rated else store.submitted_rankings(dataset)
        ratings = store.submitted_ratings(dataset) if rated else []
        reviews = [] if rated else store.reviews(dataset)
        leases = store.active_leases(dataset)
        team = store.team_activity(dataset)
    except PermissionDeniedError as exc:
        return AdminFigures(dataset, summary, refusal=str(exc), queue=queue)
    return AdminFigures(
        dataset,
        summary,
        counts,
        overfilled,
        rankings,
        team=team,
        leases=leases,
        read_at=utcnow(),
        ratings=ratings,
        reviews=reviews,
        queue=queue,
    )


def completion_text(figures: AdminFigures) -> Text:
    summary = figures.summary
    text = Text(no_wrap=False, end="")
    text.append(figures.dataset, style="bold")
    if summary is None:
        text.append(": no such dataset in the store")
        return text
    text.append(
        f": {summary.task} task · {summary.records:,} records · {summary.annotators_per_record} wanted per record"
        f" · {summary.percent_complete:.1f}% complete ({summary.complete_records:,}/{summary.records:,})"
        f" · {summary.submissions:,} submissions"
    )
    if figures.queue is not None and figures.queue.strategy == "uncertain":
        text.append(f"\nQueue: {neutralise(figures.queue.describe())}")  # scorer names are free text
    if not figures.refusal:
        if figures.overfilled:
            text.append(
                f"\n{figures.overfilled:,} record(s) got more than {summary.annotators_per_record} answers "
                "because a lease expired",
                style="yellow",
            )
        else:
            text.append(f"\nNo record has more than {summary.annotators_per_record} answers.", style="dim")
    return text


def counts_table(figures: AdminFigures) -> Table:
    """Answers per annotator and status, with a total row."""
    table = Table(title="Answers per annotator", title_justify="left", expand=False)
    table.add_column("annotator")
    for status in STATUSES:
        table.add_column(status, justify="right")
    by_annotator: dict[str, dict[str, int]] = {}
    for count in figures.counts:
        by_annotator.setdefault(count.annotator, {})[count.status] = count.count
    for annotator, row in sorted(by_annotator.items()):
        table.add_row(Text(annotator), *(Text(f"{row.get(s, 0):,}") for s in STATUSES))
    if by_annotator:
        table.add_row(
            Text("total", style="bold"),
            *(Text(f"{sum(r.get(s, 0) for r in by_annotator.values()):,}") for s in STATUSES),
        )
    else:
        table.add_row(Text("nobody has answered yet", style="dim"), *(Text("0") for _ in STATUSES))
    return table
