"""The checks an answer passes before it is stored, whoever sends it (the app, the socket
service, a script): the right types, sane sizes, and ranks that make sense for the record.

Types are checked first, so that the rules after them never meet a value they cannot
compare, and a value that would be stored as something else (a dict comment as its repr,
NaN seconds that no JSON export can hold, `True` as rank 1) is refused instead."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from store.errors import InvalidInputError
from store.types import THUMBS_AXIS, AnnotationInput

# The statuses an answer can have (types.AnnotationStatus); anything else is a typo or an attack.
STATUSES: tuple[str, ...] = ("submitted", "discarded", "draft")
# Annotator names are shown in tables and exports; a person's name or handle fits easily.
MAX_ANNOTATOR_CHARS = 200
# A comment is a note to the team, not a document: this is several pages of text.
MAX_COMMENT_CHARS = 20_000
# Why a record was discarded: a sentence or two.
MAX_DISCARD_REASON_CHARS = 2_000
# Time on one record; more than a week means a broken clock, not a slow annotator.
MAX_SECONDS_SPENT = 7 * 24 * 3600
# Client ids are UUIDs (36 characters); room for other schemes, not for payloads.
MAX_CLIENT_ID_CHARS = 100
# An answer an expert writes in place of the candidates: as long as a candidate may be.
MAX_WRITTEN_CHARS = 100_000
# Ratings in one answer: 9 candidates on 8 axes at most.
MAX_RATINGS = 9 * 8


def is_whole_number(value: object) -> bool:
    """An int that is not a bool (True is not rank 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_utf8(text: str) -> bool:
    """False for text holding half of a UTF-16 surrogate pair, which no file or database can store."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _type_name(value: object) -> str:
    return type(value).__name__


def _check_ints(values: object, field: str) -> None:
    if not isinstance(values, (tuple, list)):
        raise InvalidInputError(f"{field} must be a list of whole numbers, not {_type_name(values)}")
    for value in values:
        if not is_whole_number(value):
            raise InvalidInputError(f"{field} must hold whole numbers only, not {_type_name(value)}")


def _check_text(value: object, field: str, most: int) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidInputError(f"{field} must be text, not {_type_name(value)}")
    if not is_utf8(value):
        raise InvalidInputError(f"{field} is not valid text (it holds half of a UTF-16 surrogate pair)")
    if len(value) > most:
        raise InvalidInputError(f"{field} is {len(value):,} characters long; the most allowed is {most:,}")


def _check_fields(answer: AnnotationInput) -> None:
    """Each field on its own: its type, and its size where that matters."""
    if not is_whole_number(answer.record_id):
        raise InvalidInputError(f"record_id must be a whole number, not {_type_name(answer.record_id)}")
    if not isinstance(answer.annotator, str):
        raise InvalidInputError(f"the annotator's name must be text, not {_type_name(answer.annotator)}")
    if not answer.annotator.strip() or not is_utf8(answer.annotator):
        raise InvalidInputError("the annotator's name is empty")
    if len(answer.annotator) > MAX_ANNOTATOR_CHARS:
        raise InvalidInputError(f"the annotator's name is longer than {MAX_ANNOTATOR_CHARS} characters")
    if not isinstance(answer.status, str) or answer.status not in STATUSES:
        raise InvalidInputError(f"unknown status {answer.status!r}")
    _check_ints(answer.ranks, "ranks")
    _check_ints(answer.shown_order, "shown order")
    _check_text(answer.comment, "the comment", MAX_COMMENT_CHARS)
    _check_text(answer.discard_reason, "the discard reason", MAX_DISCARD_REASON_CHARS)
    if not isinstance(answer.both_bad, bool):
        raise InvalidInputError(f"'both bad' must be true or false, not {_type_name(answer.both_bad)}")
    seconds = answer.seconds_spent
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        raise InvalidInputError(f"seconds spent must be a number, not {_type_name(seconds)}")
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_SECONDS_SPENT:
        raise InvalidInputError(f"seconds spent must be between 0 and {MAX_SECONDS_SPENT:,} (7 days), not {seconds}")
    if not isinstance(answer.ratings, (tuple, list)) or len(answer.ratings) > MAX_RATINGS:
        raise InvalidInputError(f"ratings must be a list of at most {MAX_RATINGS} (candidate, axis, value)")
    for rating in answer.ratings:
        if not (isinstance(rating, (tuple, list)) and len(rating) == 3):
            raise InvalidInputError("each rating must be (candidate index, axis, value)")
        index, axis, value = rating
        if not is_whole_number(index) or not isinstance(axis, str):
            raise InvalidInputError("a rating needs a whole-number candidate index and an axis name")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise InvalidInputError(f"the rating on {axis!r} must be a finite number")
    _check_text(answer.written, "the written answer", MAX_WRITTEN_CHARS)
    if answer.written_rank is not None and not is_whole_number(answer.written_rank):
        raise InvalidInputError("the written answer's rank must be a whole number")
    if answer.client_id is not None:
        if not isinstance(answer.client_id, str):
            raise InvalidInputError(f"the client id must be text, not {_type_name(answer.client_id)}")
        if len(answer.client_id) > MAX_CLIENT_ID_CHARS:
            raise InvalidInputError(f"the client id is longer than {MAX_CLIENT_ID_CHARS} characters")


def _check_ratings(answer: AnnotationInput, n: int, task: str, settings: Mapping[str, Any]) -> None:
    """Ratings fit the dataset: thumbs are 0/1 on the 'good' axis; rate tasks use the dataset's
    axes and scales. A submitted answer rates every candidate on every required axis once."""
    if task not in ("rate", "thumbs"):
        if answer.ratings:
            raise InvalidInputError(f"ratings apply to rate and thumbs tasks, not {task}")
        return
    if task == "thumbs":
        axes = {THUMBS_AXIS: (0, 1, True)}
    else:
        declared = settings.get("axes") or []
        if not declared:
            raise InvalidInputError(
                "this dataset has no rating axes yet; an admin sets them with `rlhf-tui settings --axes FILE.toml`"
            )
        axes = {a["name"]: (a["low"], a["high"], a.get("required", True)) for a in declared}
    seen: set[tuple[int, str]] = set()
    for index, axis, value in answer.ratings:
        if axis not in axes:
            raise InvalidInputError(f"unknown axis {axis!r} (this dataset's: {', '.join(axes)})")
        if not 0 <= index < n:
            raise InvalidInputError(f"candidate index {index} is out of range (0 to {n - 1})")
        low, high, _ = axes[axis]
        if value != int(value) or not low <= value <= high:
            raise InvalidInputError(f"the rating on {axis!r} must be a whole number from {low} to {high}, not {value}")
        if (index, axis) in seen:
            raise InvalidInputError(f"candidate {index} is rated twice on {axis!r}")
        seen.add((index, axis))
    if answer.status == "submitted":
        for axis, (_, _, required) in axes.items():
            missing = [i for i in range(n) if required and (i, axis) not in seen]
            if missing:
                raise InvalidInputError(f"candidate {missing[0]} needs a rating on {axis!r} before submitting")


def check_answer(
    answer: AnnotationInput, n_candidates: int, task: str, settings: Mapping[str, Any] | None = None
) -> None:
    """Raise InvalidInputError (one sentence) unless `answer` may be stored for a record with
    `n_candidates` candidates in a dataset of kind `task` with these settings."""
    settings = settings or {}
    _check_fields(answer)
    n = n_candidates
    if answer.written is not None:
        if not settings.get("written_answers"):
            raise InvalidInputError("this dataset does not take written answers")
        if answer.status == "submitted" and not answer.written.strip():
            raise InvalidInputError("the written answer is empty")
        if answer.written_rank is not None and not 1 <= answer.written_rank <= n + 1:
            raise InvalidInputError(f"the written answer's rank must be from 1 to {n + 1}")
    unranked = task == "thumbs" or (task == "rate" and not settings.get("rank_too"))
    if unranked and any(r != 0 for r in answer.ranks):
        raise InvalidInputError(f"a {task} answer gives no ranks")
    _check_ratings(answer, n, task, settings)
    if unranked:
        if answer.shown_order and sorted(answer.shown_order) != list(range(n)):
            raise InvalidInputError(f"shown order must list candidates 0..{n - 1} once each")
        if answer.both_bad:
            raise InvalidInputError("'both bad' applies to pair tasks only")
        return
    if answer.shown_order and sorted(answer.shown_order) != list(range(n)):
        raise InvalidInputError(f"shown order must list candidates 0..{n - 1} once each")
    if answer.status == "discarded":
        # Ranks are optional when discarding (the store fills in zeros), but if given they must fit.
        if answer.ranks and len(answer.ranks) != n:
            raise InvalidInputError(
                f"record {answer.record_id} has {n} candidates but {len(answer.ranks)} ranks were given"
            )
        if any(r < 0 or r > n for r in answer.ranks):
            raise InvalidInputError(f"ranks must be between 1 and {n}")
        return
    if len(answer.ranks) != n:
        raise InvalidInputError(
            f"record {answer.record_id} has {n} candidates but {len(answer.ranks)} ranks were given"
        )
    if any(r < 0 or r > n for r in answer.ranks):
        raise InvalidInputError(f"ranks must be between 1 and {n}")
    if answer.status == "submitted":
        if 0 in answer.ranks:
            raise InvalidInputError("every candidate needs a rank before submitting")
        used = sorted(set(answer.ranks))
        # Ties share a rank and ranks are dense: for three candidates 1,1,2 and 1,2,2 but never 1,1,3.
        if used != list(range(1, len(used) + 1)):
            raise InvalidInputError(f"ranks must be dense from 1 (got {list(answer.ranks)})")
    if answer.both_bad and task != "pair":
        raise InvalidInputError("'both bad' applies to pair tasks only")
