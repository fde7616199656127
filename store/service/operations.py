"""The store service's wire protocol: an explicit table of operations with typed, bounded
parameters. It is deliberately not the in-process interface: no internal parameters (such
as `now`), no positional arguments, nothing that is not listed here.

A request is one JSON line `{"id": N, "op": NAME, "params": {...}}`; the reply is one line
`{"id": N, "result": ...}` or `{"id": N, "error": {"type": ..., "message": ...}}`. On
connecting, the service first sends `{"hello": {"user": ..., "admin": ..., "protocol": 1}}`
or, when it refuses the connection, an error line, and closes."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from store.answer_checks import (
    MAX_COMMENT_CHARS,
    MAX_RATINGS,
    MAX_SECONDS_SPENT,
    MAX_WRITTEN_CHARS,
    is_utf8,
    is_whole_number,
)
from store.answer_checks import MAX_DISCARD_REASON_CHARS as MAX_REASON_CHARS
from store.errors import InvalidInputError
from store.names import AGGREGATIONS, EXPORT_FORMATS, FALLBACKS, IMPORT_FORMATS, REVIEW_ORDERS, TASK_KINDS

PROTOCOL_VERSION = 1

# Bounds of one request and one reply. A line longer than MAX_LINE_BYTES closes the connection.
MAX_LINE_BYTES = 4 << 20
MAX_REPLY_BYTES = 64 << 20  # a record can hold 9 answers of 1 MB each; 64 MiB is a few of those
MAX_IDS_PER_REQUEST = 64  # records per get_records call (the client splits larger asks)
MAX_NEXT_RECORDS = 20  # records handed out per next_records call
MAX_EXCLUDE = 1_000
MAX_PAGE = 10_000  # rows per page of the paged operations
MAX_HISTORY_PAGE = 20  # revisions per page of annotation_history: each can hold a 1 MB written answer
MAX_NAME_CHARS = 200  # dataset, annotator and scorer names
MAX_GUIDELINES_CHARS = 1_000_000
MAX_CHUNK_CHARS = 1_500_000  # base64 of a 1 MiB chunk of an uploaded file
INT64 = (1 << 63) - 1


@dataclass(frozen=True)
class Param:
    """One parameter: its kind ("int", "float", "bool", "str", "ints", "choice", "scores", "dict"),
    whether it may be omitted (then `default`) or null, and its bounds."""

    name: str
    kind: str
    required: bool = True
    default: Any = None
    nullable: bool = False
    low: float = 0
    high: float = INT64
    max_len: int = MAX_NAME_CHARS
    choices: tuple[str, ...] = ()
    unique: bool = False  # "ints": each value at most once


@dataclass(frozen=True)
class Operation:
    name: str
    params: tuple[Param, ...]
    admin: bool = False
    # The request names the annotator it acts for; the service refuses any name but the caller's.
    acts_for_caller: bool = False
    paged: bool = False
    help: str = ""
    by_name: dict[str, Param] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_name.update({p.name: p for p in self.params})


def _name(name: str) -> Param:
    return Param(name, "str")


def _int(name: str, low: int = 0, high: int = INT64, **kw: Any) -> Param:
    return Param(name, "int", low=low, high=high, **kw)


DATASET = _name("dataset")
ANNOTATOR = _name("annotator")
RECORD_ID = _int("record_id")
OFFSET = _int("offset", required=False, default=0)
LIMIT = _int("limit", 1, MAX_PAGE, required=False, default=MAX_PAGE)
FMT = Param("fmt", "choice", choices=EXPORT_FORMATS)
AGGREGATE = Param("aggregate", "choice", required=False, default="all", choices=AGGREGATIONS)
FALLBACK = Param("fallback", "choice", required=False, default="majority", choices=FALLBACKS)
WEIGHTS = Param("weights", "weights", required=False, nullable=True, max_len=8)
THRESHOLD = Param("threshold", "float", required=False, nullable=True, low=-1e6, high=1e6)
TRANSFER = Param("transfer", "str", max_len=64)

_OPERATIONS = (
    # Anyone connected: reading datasets and records, and their own answers.
    Operation("list_datasets", (Param("include_archived", "bool", required=False, default=False),)),
    Operation("get_dataset", (_name("name"),)),
    Operation(
        "get_records",
        (Param("record_ids", "ints", max_len=MAX_IDS_PER_REQUEST, unique=True),),
        help="records with candidates",
    ),
    Operation("record_ids", (DATASET, OFFSET, LIMIT), paged=True),
    Operation(
        "next_records",
        (
            DATASET,
            ANNOTATOR,
            _int("limit", 1, MAX_NEXT_RECORDS, required=False, default=1),
            Param("exclude", "ints", required=False, default=(), max_len=MAX_EXCLUDE),
        ),
        acts_for_caller=True,
    ),
    Operation("renew_lease", (RECORD_ID, ANNOTATOR), acts_for_caller=True),
    Operation("release_lease", (RECORD_ID, ANNOTATOR), acts_for_caller=True),
    Operation("release_all_leases", (ANNOTATOR,), acts_for_caller=True),
    Operation("skip_record", (RECORD_ID, ANNOTATOR), acts_for_caller=True),
    Operation("get_annotation", (RECORD_ID, ANNOTATOR), acts_for_caller=True),
    Operation(
        "annotation_history",
        (RECORD_ID, ANNOTATOR, OFFSET, _int("limit", 1, MAX_HISTORY_PAGE, required=False, default=MAX_HISTORY_PAGE)),
        acts_for_caller=True,
        paged=True,
    ),
    Operation(
        "save_annotation",
        (
            RECORD_ID,
            ANNOTATOR,
            Param("status", "choice", choices=("submitted", "discarded", "draft")),
            Param("ranks", "ints", required=False, default=(), max_len=16),
            Param("shown_order", "ints", required=False, default=(), max_len=16),
            Param("comment", "str", required=False, default="", max_len=MAX_COMMENT_CHARS),
            Param("discard_reason", "str", required=False, default="", max_len=MAX_REASON_CHARS),
            Param("both_bad", "bool", required=False, default=False),
            Param("seconds_spent", "float", required=False, default=0.0, high=MAX_SECONDS_SPENT),
            Param("client_id", "str", required=False, nullable=True, max_len=100),
            Param("ratings", "ratings", required=False, default=(), max_len=MAX_RATINGS),
            Param("written", "str", required=False, nullable=True, max_len=MAX_WRITTEN_CHARS),
            _int("written_rank", 1, 10, required=False, nullable=True),
        ),
        acts_for_caller=True,
    ),
    Operation(
        "answered_record_ids",
        (DATASET, ANNOTATOR, _int("limit", 1, 1000, required=False, default=100)),
        acts_for_caller=True,
    ),
    Operation("progress", (DATASET, ANNOTATOR), acts_for_caller=True),
    # An annotator finds records they answered; an admin finds any.
    Operation("find_record", (DATASET, Param("external_id", "str", max_len=1000))),
    Operation("submission_counts", (Param("record_ids", "ints", max_len=MAX_IDS_PER_REQUEST),)),
    # Which scorer orders a dataset's queue and when it last scored (names and a time, no scores).
    Operation("queue_info", (DATASET,)),
    Operation("dataset_scorers", (DATASET,)),
    # The model's answer on a record the caller submitted, where the dataset shows it after submission.
    Operation("model_after_submit", (RECORD_ID, ANNOTATOR), acts_for_caller=True),
    # Admins: datasets, import and export, team-wide figures, scores.
    Operation(
        "create_dataset",
        (
            _name("name"),
            Param("task", "choice", choices=TASK_KINDS),
            Param("guidelines", "str", required=False, default="", max_len=MAX_GUIDELINES_CHARS),
            _int("annotators_per_record", 1, 1000, required=False, default=1),
            Param("settings", "json", required=False, nullable=True, max_len=65_536),
        ),
        admin=True,
    ),
    Operation(
        "update_dataset",
        (
            _name("name"),
            Param("guidelines", "str", required=False, nullable=True, max_len=MAX_GUIDELINES_CHARS),
            _int("annotators_per_record", 1, 1000, required=False, nullable=True),
            Param("settings", "json", required=False, nullable=True, max_len=65_536),
        ),
        admin=True,
    ),
    Operation("rename_dataset", (_name("name"), _name("new_name")), admin=True),
    Operation("archive_dataset", (_name("name"), Param("archived", "bool", required=False, default=True)), admin=True),
    Operation("dataset_contents", (_name("name"),), admin=True),
    Operation(
        "delete_dataset", (_name("name"), Param("with_answers", "bool", required=False, default=False)), admin=True
    ),
    Operation(
        "upload_begin",
        (Param("suffix", "choice", choices=(".jsonl", ".ndjson", ".json", ".parquet", ".csv")),),
        admin=True,
    ),
    Operation("upload_chunk", (TRANSFER, Param("data", "str", max_len=MAX_CHUNK_CHARS)), admin=True),
    Operation(
        "import_upload",
        (
            TRANSFER,
            Param("display_name", "str", max_len=4096),
            DATASET,
            Param("task", "choice", required=False, nullable=True, choices=TASK_KINDS),
            Param("fmt", "choice", required=False, default="auto", choices=("auto", *IMPORT_FORMATS)),
            Param("guidelines", "str", required=False, nullable=True, max_len=MAX_GUIDELINES_CHARS),
            _int("annotators_per_record", 1, 1000, required=False, nullable=True),
            Param("skip_invalid", "bool", required=False, default=False),
            Param("keep_labels", "str", required=False, nullable=True),
            Param("settings", "json", required=False, nullable=True, max_len=65_536),
        ),
        admin=True,
    ),
    Operation(
        "export_begin",
        (
            DATASET,
            FMT,
            AGGREGATE,
            Param("file_format", "choice", choices=("parquet", "json")),
            FALLBACK,
            WEIGHTS,
            THRESHOLD,
        ),
        admin=True,
    ),
    Operation("transfer_read", (TRANSFER, _int("offset")), admin=True),
    Operation("transfer_close", (TRANSFER,), admin=True),
    Operation(
        "export_rows", (DATASET, FMT, AGGREGATE, OFFSET, LIMIT, FALLBACK, WEIGHTS, THRESHOLD), admin=True, paged=True
    ),
    Operation("status_counts", (DATASET,), admin=True),
    Operation("overfilled_records", (DATASET,), admin=True),
    Operation("submitted_rankings", (DATASET, OFFSET, LIMIT), admin=True, paged=True),
    Operation("submitted_ratings", (DATASET, OFFSET, LIMIT), admin=True, paged=True),
    Operation("promote_written", (DATASET,), admin=True),
    Operation(
        "save_scores",
        (
            _name("scorer"),
            Param("scores", "scores", max_len=MAX_PAGE),
            Param("reorder", "bool", required=False, default=True),
        ),
        admin=True,
    ),
    Operation(
        "scores",
        (DATASET, Param("scorer", "str", required=False, nullable=True), OFFSET, LIMIT),
        admin=True,
        paged=True,
    ),
)
_REVIEW_OPERATIONS = (
    Operation(
        "review_queue",
        (
            DATASET,
            Param("order", "choice", required=False, default="disputed", choices=REVIEW_ORDERS),
            Param("annotator", "str", required=False, nullable=True),
            OFFSET,
            LIMIT,
        ),
        admin=True,
        paged=True,
    ),
    Operation("record_answers", (RECORD_ID,), admin=True),
    Operation("get_review", (RECORD_ID,), admin=True),
    Operation("review_history", (RECORD_ID,), admin=True),
    Operation(
        "save_review",
        (
            RECORD_ID,
            Param("ranks", "ints", required=False, default=(), max_len=16),
            Param("both_bad", "bool", required=False, default=False),
            Param("accepted_from", "str", required=False, nullable=True),
            Param("note", "str", required=False, default="", max_len=MAX_COMMENT_CHARS),
            Param("gold", "bool", required=False, default=False),
        ),
        admin=True,
    ),
    Operation("reviews", (DATASET,), admin=True),
    Operation("active_leases", (DATASET,), admin=True),
    Operation("team_activity", (DATASET,), admin=True),
    Operation("release_leases_of", (DATASET, ANNOTATOR), admin=True),
    Operation("reopen_record", (RECORD_ID, ANNOTATOR), admin=True),
    Operation("external_ids", (Param("record_ids", "ints", max_len=MAX_PAGE),), admin=True),
    # The reward model's scores of one record: for the reviewer only, never for annotators (anchoring).
    Operation("record_scores", (RECORD_ID,), admin=True),
)
OPERATIONS: dict[str, Operation] = {op.name: op for op in _OPERATIONS + _REVIEW_OPERATIONS}

# What a refused admin operation is, in the words of the command that asks for it.
ADMIN_WHAT = {
    "create_dataset": "creating datasets",
    "update_dataset": "changing dataset settings",
    "rename_dataset": "renaming datasets",
    "archive_dataset": "archiving datasets",
    "dataset_contents": "deleting datasets",
    "delete_dataset": "deleting datasets",
    "upload_begin": "import",
    "upload_chunk": "import",
    "import_upload": "import",
    "export_begin": "export",
    "transfer_read": "export",
    "transfer_close": "export",
    "export_rows": "reading training data (export, train --dataset)",
    "status_counts": "stats",
    "overfilled_records": "stats",
    "submitted_rankings": "stats --agreement",
    "submitted_ratings": "stats --agreement",
    "promote_written": "promoting written answers",
    "save_scores": "score",
    "scores": "reading reward-model scores",
    "review_queue": "review",
    "record_answers": "review",
    "get_review": "review",
    "review_history": "review",
    "save_review": "review",
    "reviews": "review",
    "active_leases": "the team view of the admin screen",
    "team_activity": "the team view of the admin screen",
    "release_leases_of": "releasing someone's records",
    "reopen_record": "reopening someone's answer",
    "external_ids": "stats --agreement",
    "record_scores": "the reward model's suggestions in review",
}


def _check_int(op: str, p: Param, value: object) -> int:
    if not is_whole_number(value):
        raise InvalidInputError(f"{op}: {p.name} must be a whole number, not {type(value).__name__}")
    assert isinstance(value, int)
    if not p.low <= value <= p.high:
        raise InvalidInputError(f"{op}: {p.name} must be between {p.low:g} and {p.high:g}, not {value}")
    return value


def _check_value(op: str, p: Param, value: object) -> object:
    if value is None:
        if p.nullable:
            return None
        raise InvalidInputError(f"{op}: {p.name} may not be null")
    kind = p.kind
    if kind == "int":
        return _check_int(op, p, value)
    if kind == "float":
        if not (is_whole_number(value) or isinstance(value, float)):
            raise InvalidInputError(f"{op}: {p.name} must be a number, not {type(value).__name__}")
        number = float(value)  # type: ignore[arg-type]
        if not math.isfinite(number) or not p.low <= number <= p.high:
            raise InvalidInputError(f"{op}: {p.name} must be a finite number from {p.low:g} to {p.high:g}")
        return number
    if kind == "bool":
        if not isinstance(value, bool):
            raise InvalidInputError(f"{op}: {p.name} must be true or false")
        return value
    if kind in ("str", "choice"):
        if not isinstance(value, str):
            raise InvalidInputError(f"{op}: {p.name} must be text, not {type(value).__name__}")
        if not is_utf8(value):
            raise InvalidInputError(f"{op}: {p.name} is not valid text (it holds half of a UTF-16 surrogate pair)")
        if kind == "choice" and value not in p.choices:
            raise InvalidInputError(f"{op}: {p.name} must be one of {', '.join(p.choices)}")
        if len(value) > p.max_len:
            raise InvalidInputError(f"{op}: {p.name} is over {p.max_len:,} characters")
        return value
    if kind == "ints":
        if not isinstance(value, list):
            raise InvalidInputError(f"{op}: {p.name} must be a list of whole numbers")
        if len(value) > p.max_len:
            raise InvalidInputError(f"{op}: {p.name} lists {len(value):,} items; at most {p.max_len:,} per request")
        element = Param(p.name, "int")
        checked = tuple(_check_int(op, element, v) for v in value)
        if p.unique and len(set(checked)) != len(checked):
            raise InvalidInputError(f"{op}: {p.name} lists a record twice")
        return checked
    if kind == "weights":
        if not isinstance(value, dict) or not 0 < len(value) <= p.max_len:
            raise InvalidInputError(f"{op}: {p.name} must map 1 to {p.max_len} axis names to weights")
        weights: dict[str, float] = {}
        for axis, weight in value.items():
            if len(axis) > 50:
                raise InvalidInputError(f"{op}: an axis name in {p.name} is over 50 characters")
            weights[axis] = float(_check_value(op, Param(f"weight of {axis!r}", "float", low=-1e6, high=1e6), weight))  # type: ignore[arg-type]
        return weights
    if kind == "ratings":
        if not isinstance(value, list) or len(value) > p.max_len:
            raise InvalidInputError(f"{op}: {p.name} must be a list of at most {p.max_len} [candidate, axis, value]")
        rated: list[tuple[int, str, object]] = []
        for item in value:
            if not (
                isinstance(item, list)
                and len(item) == 3
                and isinstance(item[1], str)
                and len(item[1]) <= 50
                and is_utf8(item[1])
            ):
                raise InvalidInputError(f"{op}: each of {p.name} must be [candidate index, axis name, value]")
            index = _check_int(op, Param("candidate index", "int", high=64), item[0])
            rating = _check_value(op, Param("rating", "float", low=-1e6, high=1e6), item[2])
            rated.append((index, item[1], rating))
        return tuple(rated)
    if kind == "json":
        if not isinstance(value, dict) or len(json.dumps(value)) > p.max_len:
            raise InvalidInputError(f"{op}: {p.name} must be an object of at most {p.max_len:,} characters of JSON")
        return value
    if kind == "scores":
        if not isinstance(value, list) or len(value) > p.max_len:
            raise InvalidInputError(f"{op}: {p.name} must be a list of at most {p.max_len:,} [record, index, score]")
        out = []
        for item in value:
            if not (isinstance(item, list) and len(item) == 3):
                raise InvalidInputError(f"{op}: each of {p.name} must be [record id, candidate index, score]")
            record_id = _check_int(op, Param("record id", "int"), item[0])
            index = _check_int(op, Param("candidate index", "int", high=64), item[1])
            score = _check_value(op, Param("score", "float", low=-1e30, high=1e30), item[2])
            out.append((record_id, index, score))
        return out
    raise AssertionError(f"unknown parameter kind {kind}")


def parse_params(op: Operation, raw: object) -> dict[str, Any]:
    """The request's parameters checked against the table: unknown ones and bad values refused."""
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{op.name}: params must be an object")
    unknown = sorted(set(raw) - set(op.by_name))
    if unknown:
        raise InvalidInputError(f"{op.name} takes no parameter {unknown[0]!r}")
    values: dict[str, Any] = {}
    for p in op.params:
        if p.name not in raw:
            if p.required:
                raise InvalidInputError(f"{op.name}: {p.name} is missing")
            values[p.name] = p.default
            continue
        values[p.name] = _check_value(op.name, p, raw[p.name])
    return values


def lookup(name: object) -> Operation:
    op = OPERATIONS.get(name) if isinstance(name, str) else None
    if op is None:
        shown = name if isinstance(name, str) and len(name) <= 40 else "that"
        raise InvalidInputError(f"the store service has no operation {shown!r}")
    return op


Handler = Callable[..., object]
