"""Plain values that cross the store interface (in-process or over the socket).

Everything here is a frozen dataclass of primitives so it can be serialised as JSON.
Candidate indexes are always *canonical* (the order at import), whatever order an
annotator saw them in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

TaskKind = Literal["rank", "pair", "rate", "thumbs"]
AnnotationStatus = Literal["submitted", "discarded", "draft"]
THUMBS_AXIS = "good"  # a thumbs answer is a rating of 1 (good) or 0 (bad) on this axis
MIN_CANDIDATES = 2
MAX_CANDIDATES = 9
MAX_TEXT_BYTES = 1_000_000


@dataclass(frozen=True)
class ExportOptions:
    """What an export writes: its format, how the answers of a record combine, and for rate datasets how
    ratings become preferences. One value from the CLI (or a trainer) down to the query."""

    fmt: str  # one of EXPORT_FORMATS
    aggregate: str = "all"  # one of AGGREGATIONS
    fallback: str = "majority"  # with "adjudicated": for records without a review (one of FALLBACKS)
    weights: dict[str, float] | None = None  # rate datasets: axis -> weight (default: the overall axis)
    threshold: float | None = None  # kto from ratings: desirable at or above this score


@dataclass(frozen=True)
class Caller:
    """Whom a store serves. Over the team service: the Unix user the kernel vouched for, and whether the
    service made them an admin. In-process: the owner of the file, an admin, named by the command."""

    user: str | None  # None in-process: the command decides the name (--annotator, else the login name)
    admin: bool
    through_service: bool


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


Prompt = str | tuple[ChatMessage, ...]


@dataclass(frozen=True)
class Candidate:
    index: int  # canonical index, 0-based
    text: str
    source: str | None = None


@dataclass(frozen=True)
class Dataset:
    name: str
    task: TaskKind
    guidelines: str
    annotators_per_record: int
    settings: dict = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass(frozen=True)
class DatasetSummary:
    name: str
    task: TaskKind
    annotators_per_record: int
    records: int
    submissions: int  # submitted annotations, all annotators
    complete_records: int  # records with at least annotators_per_record submissions
    archived: bool = False  # hidden from the pickers, kept whole (`rlhf-tui datasets archive`)

    @property
    def percent_complete(self) -> float:
        return 100.0 * self.complete_records / self.records if self.records else 0.0


@dataclass(frozen=True)
class Record:
    id: int
    dataset: str
    external_id: str
    prompt: Prompt
    candidates: tuple[Candidate, ...]
    metadata: dict = field(default_factory=dict)

    @property
    def is_chat(self) -> bool:
        return not isinstance(self.prompt, str)


@dataclass(frozen=True)
class AnnotationInput:
    """What a client sends to save an answer. `ranks[i]` is the rank of canonical
    candidate i (1 = best, equal numbers = tie, 0 = not ranked yet, drafts only).
    Pair tasks use ranks too: (1, 2) A better, (2, 1) B better, (1, 1) tie;
    `both_bad` marks a tie where neither answer is acceptable."""

    record_id: int
    annotator: str
    status: AnnotationStatus
    ranks: tuple[int, ...] = ()
    shown_order: tuple[int, ...] = ()
    comment: str = ""
    discard_reason: str = ""
    both_bad: bool = False
    seconds_spent: float = 0.0
    client_id: str | None = None  # client-generated id: a resend is never counted twice
    ratings: tuple[tuple[int, str, float], ...] = ()  # (candidate index, axis, value)
    written: str | None = None  # an answer the annotator wrote themselves
    written_rank: int | None = None  # its rank among the candidates (1 = best); default first


@dataclass(frozen=True)
class Annotation:
    id: int
    record_id: int
    annotator: str
    status: AnnotationStatus
    ranks: tuple[int, ...]
    shown_order: tuple[int, ...]
    comment: str
    discard_reason: str
    both_bad: bool
    seconds_spent: float
    created_at: datetime
    updated_at: datetime
    revision: int  # 1 for the first save; amendments increase it, older ones go to history
    ratings: tuple[tuple[int, str, float], ...] = ()
    written: str | None = None
    written_rank: int | None = None


@dataclass(frozen=True)
class AnnotatorProgress:
    annotator: str
    submitted: int  # this annotator's submitted answers in the dataset
    discarded: int
    dataset_records: int
    dataset_complete_records: int
    remaining_for_annotator: int  # records this annotator could still be given

    @property
    def dataset_percent(self) -> float:
        return 100.0 * self.dataset_complete_records / self.dataset_records if self.dataset_records else 0.0


@dataclass(frozen=True)
class StatusCount:
    annotator: str
    status: AnnotationStatus
    count: int


@dataclass(frozen=True)
class ImportReport:
    dataset: str
    file: str
    format: str
    rows_read: int
    added: int
    already_present: int
    rejected: tuple[str, ...] = ()  # one line per rejected row (with --skip-invalid)
    labels_recorded: int = 0
    # hh rows whose transcripts differ before the final reply, read as TRL does: the shared text up
    # to the last "\n\nAssistant: " is the prompt, the rest of each transcript its reply.
    hh_common_prefix_rows: int = 0


@dataclass(frozen=True)
class DatasetContents:
    """What deleting a dataset removes: shown before it is deleted, and returned after."""

    name: str
    records: int
    candidates: int
    answers: int  # annotations of every status (submitted, drafts, discarded)
    annotators: int
    reviews: int
    scores: int

    def describe(self) -> str:
        parts = [f"{self.records:,} records", f"{self.candidates:,} candidates"]
        parts.append(f"{self.answers:,} answers by {self.annotators:,} annotators" if self.answers else "no answers")
        if self.reviews:
            parts.append(f"{self.reviews:,} reviews")
        if self.scores:
            parts.append(f"{self.scores:,} reward-model scores")
        return ", ".join(parts)


@dataclass(frozen=True)
class ReviewInput:
    """A reviewer's final answer for a record: ranks by canonical index (pairs: [1, 2] or
    [2, 1], or equal for a tie), `accepted_from` when it is one annotator's answer taken as
    it is, and `gold` when the record should score annotators' accuracy."""

    record_id: int
    reviewer: str
    ranks: tuple[int, ...]
    both_bad: bool = False
    accepted_from: str | None = None
    note: str = ""
    gold: bool = False


@dataclass(frozen=True)
class Review:
    id: int
    record_id: int
    reviewer: str
    ranks: tuple[int, ...]
    both_bad: bool
    accepted_from: str | None
    note: str
    gold: bool
    created_at: datetime
    updated_at: datetime
    revision: int


@dataclass(frozen=True)
class ReviewItem:
    """One record of the review queue: it has two or more submitted answers."""

    record_id: int
    external_id: str
    answers: int
    distinct_answers: int  # how many different rankings or choices were given
    spread: float  # summed variance of the ranks per candidate: 0 when everyone agrees
    commented: int  # answers with a comment
    reviewed: bool


@dataclass(frozen=True)
class LeaseInfo:
    """Who holds which record right now, and since when (the first hand-out of this lease)."""

    record_id: int
    external_id: str
    annotator: str
    since: datetime
    expires: datetime


@dataclass(frozen=True)
class AnnotatorActivity:
    annotator: str
    submitted: int
    drafts: int
    submitted_today: int
    first_today: datetime | None
    last_today: datetime | None
    leases: int

    @property
    def per_hour_today(self) -> float | None:
        """Submissions per hour between today's first and last answer (None below two answers)."""
        if self.submitted_today < 2 or self.first_today is None or self.last_today is None:
            return None
        hours = (self.last_today - self.first_today).total_seconds() / 3600
        return self.submitted_today / hours if hours > 0 else None


@dataclass(frozen=True)
class QueueInfo:
    """How a dataset's queue is ordered: its strategy and, for `uncertain`, the reward-model
    scorers that order it, how many records they scored and when they last saved a score."""

    dataset: str
    strategy: str
    scorers: tuple[str, ...]  # empty unless the strategy is uncertain and something was scored
    scored_records: int  # records with two scored candidates (they lead the queue)
    last_scored: datetime | None

    def describe(self) -> str:
        """'fill', or 'uncertain by rm-2 (1,000 scored, last 2026-12-07 03:12 UTC)'."""
        if self.strategy != "uncertain":
            return self.strategy
        if not self.scorers:
            return "uncertain (nothing scored yet: import order)"
        when = f", last {self.last_scored:%Y-%m-%d %H:%M} UTC" if self.last_scored else ""
        return f"uncertain by {' vs '.join(self.scorers)} ({self.scored_records:,} scored{when})"
