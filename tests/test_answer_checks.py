"""check_answer: what may be stored as an answer, rule by rule."""

from __future__ import annotations

import dataclasses
import math

import pytest

from store import InvalidInputError
from store.answer_checks import (
    MAX_ANNOTATOR_CHARS,
    MAX_CLIENT_ID_CHARS,
    MAX_COMMENT_CHARS,
    MAX_DISCARD_REASON_CHARS,
    MAX_SECONDS_SPENT,
    check_answer,
)
from store.types import AnnotationInput

RANK = AnnotationInput(
    record_id=7,
    annotator="ann",
    status="submitted",
    ranks=(2, 1, 3),
    shown_order=(2, 0, 1),
    comment="the second is clearer",
    seconds_spent=12.5,
    client_id="0b9d6c1e-8f7a-4c55-9a53-2f1f0f3b5d11",
)
PAIR = AnnotationInput(record_id=8, annotator="ann", status="submitted", ranks=(1, 1), both_bad=True)


def with_(answer: AnnotationInput, **changes: object) -> AnnotationInput:
    # dataclasses.replace does not check types, which is how a bad value reaches the store.
    return dataclasses.replace(answer, **changes)  # type: ignore[arg-type]


def refused(answer: AnnotationInput, n: int = 3, task: str = "rank") -> str:
    with pytest.raises(InvalidInputError) as caught:
        check_answer(answer, n, task)
    message = str(caught.value)
    assert message and "\n" not in message
    return message


# -- good answers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        RANK,
        with_(RANK, ranks=(1, 1, 2)),  # ties, dense
        with_(RANK, ranks=[1, 2, 2], shown_order=[0, 1, 2]),  # lists as well as tuples
        with_(RANK, shown_order=()),  # shown order is optional
        with_(RANK, status="draft", ranks=(1, 0, 0)),  # a draft may leave candidates unranked
        with_(RANK, status="discarded", ranks=(), discard_reason="off topic"),
        with_(RANK, status="discarded", ranks=(0, 0, 0)),
        with_(RANK, comment=None, discard_reason=None, client_id=None),
        with_(RANK, seconds_spent=0),
        with_(RANK, seconds_spent=MAX_SECONDS_SPENT),
        with_(RANK, comment="x" * MAX_COMMENT_CHARS, discard_reason="y" * MAX_DISCARD_REASON_CHARS),
        with_(RANK, annotator="a" * MAX_ANNOTATOR_CHARS, client_id="c" * MAX_CLIENT_ID_CHARS),
        with_(RANK, annotator="Zoë 名前"),
    ],
)
def test_good_rank_answers_pass(answer):
    check_answer(answer, 3, "rank")


@pytest.mark.parametrize("ranks,both_bad", [((1, 2), False), ((2, 1), False), ((1, 1), False), ((1, 1), True)], ids=str)
def test_good_pair_answers_pass(ranks, both_bad):
    check_answer(with_(PAIR, ranks=ranks, both_bad=both_bad), 2, "pair")


# -- the rules carried over from the store ---------------------------------------------


def test_an_unknown_status_is_refused():
    assert "unknown status" in refused(with_(RANK, status="approved"))


@pytest.mark.parametrize("shown", [(0, 1), (0, 1, 1), (1, 2, 3), (0, 1, 2, 3)], ids=str)
def test_shown_order_must_list_each_candidate_once(shown):
    assert "shown order must list candidates 0..2 once each" in refused(with_(RANK, shown_order=shown))


@pytest.mark.parametrize("status", ["submitted", "draft"])
def test_one_rank_per_candidate(status):
    assert "has 3 candidates but 2 ranks were given" in refused(with_(RANK, status=status, ranks=(1, 2)))


@pytest.mark.parametrize("ranks", [(1, 2, 4), (-1, 1, 2)], ids=str)
def test_ranks_stay_between_1_and_n(ranks):
    assert "between 1 and 3" in refused(with_(RANK, ranks=ranks))


def test_a_submission_ranks_every_candidate():
    assert "every candidate needs a rank" in refused(with_(RANK, ranks=(1, 0, 2)))


def test_submitted_ranks_are_dense():
    assert "dense from 1" in refused(with_(RANK, ranks=(1, 1, 3)))


def test_both_bad_is_for_pairs_only():
    assert "pair tasks only" in refused(with_(RANK, both_bad=True))


def test_a_discarded_answer_needs_no_ranks_and_skips_the_rank_rules():
    check_answer(with_(RANK, status="discarded", ranks=(), both_bad=True), 3, "rank")


# -- the rules on each field's type and size ----------------------------------------------


@pytest.mark.parametrize("record_id", [True, "7", 7.0, None], ids=repr)
def test_record_id_is_an_int(record_id):
    assert "record_id" in refused(with_(RANK, record_id=record_id))


@pytest.mark.parametrize("annotator", ["", "   ", None, 5, "a" * (MAX_ANNOTATOR_CHARS + 1)], ids=repr)
def test_annotator_is_a_short_non_empty_name(annotator):
    assert "annotator" in refused(with_(RANK, annotator=annotator))


@pytest.mark.parametrize("status", [None, ["submitted"], 1], ids=repr)
def test_status_of_another_type_is_refused(status):
    assert "unknown status" in refused(with_(RANK, status=status))


@pytest.mark.parametrize(
    "ranks", [(True, 2, 3), (1.0, 2, 3), ("1", "2", "3"), "123", {1: 1, 2: 2, 3: 3}, None, 3], ids=repr
)
def test_ranks_are_whole_numbers(ranks):
    assert "ranks must" in refused(with_(RANK, ranks=ranks))


def test_true_is_not_rank_1_even_in_a_pair():
    assert "ranks must hold whole numbers" in refused(with_(PAIR, ranks=(True, True), both_bad=False), 2, "pair")


@pytest.mark.parametrize("shown", [(False, True, 2), (0.0, 1, 2), "012", None], ids=repr)
def test_shown_order_is_whole_numbers(shown):
    assert "shown order must" in refused(with_(RANK, shown_order=shown))


def test_a_discarded_answer_with_ranks_must_still_fit_the_record():
    assert "3 candidates but 2 ranks" in refused(with_(RANK, status="discarded", ranks=(1, 2)))
    assert "between 1 and 3" in refused(with_(RANK, status="discarded", ranks=(1, 2, 9)))
    assert "whole numbers" in refused(with_(RANK, status="discarded", ranks=(True, 0, 0)))


@pytest.mark.parametrize("comment", [{"text": "hi"}, ["hi"], 5, b"hi"], ids=repr)
def test_a_comment_is_text(comment):
    assert "comment must be text" in refused(with_(RANK, comment=comment))


def test_a_comment_has_a_size_limit():
    assert "20,000" in refused(with_(RANK, comment="x" * (MAX_COMMENT_CHARS + 1)))


@pytest.mark.parametrize("reason", [{"why": "spam"}, 3], ids=repr)
def test_a_discard_reason_is_text(reason):
    assert "discard reason must be text" in refused(with_(RANK, status="discarded", discard_reason=reason))


def test_a_discard_reason_has_a_size_limit():
    assert "2,000" in refused(with_(RANK, status="discarded", discard_reason="x" * (MAX_DISCARD_REASON_CHARS + 1)))


@pytest.mark.parametrize("both_bad", [1, 0, "yes", None], ids=repr)
def test_both_bad_is_a_real_bool(both_bad):
    assert "'both bad' must be true or false" in refused(with_(PAIR, both_bad=both_bad), 2, "pair")


@pytest.mark.parametrize(
    "seconds", [math.nan, math.inf, -math.inf, -1e300, -0.5, MAX_SECONDS_SPENT + 1, 1e300], ids=repr
)
def test_seconds_spent_is_finite_and_within_a_week(seconds):
    assert "seconds spent must be between 0 and" in refused(with_(RANK, seconds_spent=seconds))


@pytest.mark.parametrize("seconds", [True, "12", None, [1]], ids=repr)
def test_seconds_spent_is_a_number(seconds):
    assert "seconds spent must be a number" in refused(with_(RANK, seconds_spent=seconds))


@pytest.mark.parametrize("client_id", [5, {"id": 1}, "c" * (MAX_CLIENT_ID_CHARS + 1)], ids=repr)
def test_client_id_is_none_or_short_text(client_id):
    assert "client id" in refused(with_(RANK, client_id=client_id))
