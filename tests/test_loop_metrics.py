"""The arithmetic behind score and eval: agreement with annotators, win rate and its Wilson interval."""

from __future__ import annotations

import pytest

from trainers.evaluation import summarise
from trainers.generation import GenerationSettings, PromptItem, native_rows, split_count
from trainers.scoring import agreement
from trainers.shares import wilson_interval


def test_wilson_interval_known_values():
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(0, 10)[1] == pytest.approx(0.2775, abs=1e-4)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0) and wilson_interval(10, 10)[0] == pytest.approx(
        0.7225, abs=1e-4
    )
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_win_rate_counts_ties_as_half():
    items = [PromptItem(id=str(i), prompt="p", metadata={}) for i in range(4)]
    result = summarise(items, ["a"] * 4, ["b"] * 4, [1.0, 2.0, 0.5, 3.0], [0.0, 2.0, 1.0, 3.0])
    assert (result.wins, result.ties, result.losses) == (1, 2, 1)
    assert result.win_rate == 0.5
    assert result.low < 0.5 < result.high
    assert [r["winner"] for r in result.rows] == ["policy", "tie", "reference", "tie"]


def test_agreement_over_every_ranked_pair():
    # record 1: ranks (1, 2, 3); the model orders 0 > 2 > 1 → pairs (0,1) yes, (0,2) yes, (1,2) no
    # record 2: a tie in the ranking gives no pair; a tie in scores counts half
    rankings = [(1, "ann", (1, 2, 3), False), (2, "ann", (1, 1, 2), False)]
    scores = {(1, 0): 3.0, (1, 1): 1.0, (1, 2): 2.0, (2, 0): 5.0, (2, 1): 0.0, (2, 2): 5.0}
    result = agreement(rankings, scores)
    assert (result.records, result.pairs) == (2, 5)
    # record 2: (0,2) tied in scores → ½; (1,2): rank 1 beats rank 2 but scores 0 < 5 → 0
    assert result.agreed == 2 + 0.5
    assert result.rate == pytest.approx(0.5)


def test_candidates_are_shared_among_models_and_keep_their_source():
    assert split_count(4, 1) == [4] and split_count(5, 2) == [3, 2] and split_count(3, 3) == [1, 1, 1]
    items = [PromptItem(id="r1", prompt="hi", metadata={"category": "x"})]
    rows = native_rows(items, [("m1", [["a", ""]]), ("m2", [["c"]])], "round2", "src", GenerationSettings())
    assert rows[0]["id"] == "r1@round2"
    assert [(r["text"], r["source"]) for r in rows[0]["responses"]] == [
        ("a", "m1"),
        ("(the model wrote nothing)", "m1"),
        ("c", "m2"),
    ]
    assert rows[0]["metadata"]["category"] == "x" and rows[0]["metadata"]["source_id"] == "r1"
