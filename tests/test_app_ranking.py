"""The ranking model behind rank mode and the pair decisions (no Textual)."""

from __future__ import annotations

import pytest

from rlhf_tui.app.annotate.ranking import Ranking, pair_choice, pair_ranks


def test_toggle_tie_and_canonical_ranks():
    ranking = Ranking((2, 0, 1))  # position 0 shows canonical 2, …
    ranking.toggle(1)
    ranking.toggle_tie()
    ranking.toggle(2)
    assert ranking.groups == [[1, 2]]
    ranking.toggle(0)
    assert ranking.canonical_ranks() == (1, 1, 2)  # canonical 0 and 1 tied first, canonical 2 second


def test_taking_out_the_middle_rank_closes_the_gap():
    ranking = Ranking((0, 1, 2))
    for position in (0, 1, 2):
        ranking.toggle(position)
    ranking.toggle(1)
    assert [ranking.rank_of(p) for p in range(3)] == [1, 0, 2]


def test_tie_twice_cancels_and_tie_first_does_nothing():
    ranking = Ranking((0, 1, 2))
    ranking.toggle_tie()
    assert not ranking.tie_pending
    ranking.toggle(0)
    ranking.toggle_tie()
    ranking.toggle_tie()
    ranking.toggle(1)
    assert ranking.groups == [[0], [1]]


def test_complete_last_only_with_one_left():
    ranking = Ranking((0, 1, 2))
    ranking.toggle(0)
    assert not ranking.complete_last()
    ranking.toggle(2)
    assert ranking.complete_last() and ranking.rank_of(1) == 3


def test_round_trip_through_stored_ranks():
    ranking = Ranking.from_canonical((1, 2, 0), (2, 1, 0))
    assert ranking.groups == [[0], [2]]
    assert ranking.canonical_ranks() == (2, 1, 0)


@pytest.mark.parametrize(
    ("order", "choice", "ranks", "both_bad"),
    [
        ((0, 1), "a", (1, 2), False),
        ((1, 0), "a", (2, 1), False),
        ((1, 0), "b", (1, 2), False),
        ((0, 1), "tie", (1, 1), False),
        ((1, 0), "both_bad", (1, 1), True),
    ],
)
def test_pair_decisions_map_to_canonical_ranks(order, choice, ranks, both_bad):
    assert pair_ranks(order, choice) == (ranks, both_bad)
    assert pair_choice(order, ranks, both_bad) == choice
