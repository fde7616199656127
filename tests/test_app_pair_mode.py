"""Pair mode: every decision key, mapped back to canonical candidates in the store."""

from __future__ import annotations

import pytest
from app_support import ANNOTATOR, build_store, make_app, pair_rows, press, settle


@pytest.fixture
def pair_store(tmp_path):
    store = build_store(tmp_path, "pair", pair_rows(12))
    yield store
    store.close()


def stored_decision(store, record_id: int) -> tuple[tuple[int, int], bool]:
    """(rank of the candidate shown as A, rank of B) and both_bad, as stored."""
    answer = store.get_annotation(record_id, ANNOTATOR)
    assert answer.status == "submitted"
    a, b = answer.shown_order
    return (answer.ranks[a], answer.ranks[b]), answer.both_bad


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("1", ((1, 2), False)),
        ("left", ((1, 2), False)),
        ("a", ((1, 2), False)),
        ("2", ((2, 1), False)),
        ("right", ((2, 1), False)),
        ("b", ((2, 1), False)),
        ("t", ((1, 1), False)),
        ("x", ((1, 1), True)),
    ],
)
async def test_one_key_decides_and_moves_on(pair_store, key, expected):
    app = make_app(pair_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        item = app.screen.session.current
        await press(pilot, key)
        assert stored_decision(pair_store, item.record.id) == expected
        assert app.screen.session.current.record.id != item.record.id
        assert pair_store.get_annotation(item.record.id, ANNOTATOR).shown_order == item.shown_order


async def test_a_and_b_follow_the_shuffled_order(pair_store):
    app = make_app(pair_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        flipped = None
        for _ in range(10):  # find a record this annotator sees the other way round
            item = app.screen.session.current
            if item.shown_order == (1, 0):
                flipped = item
                break
            await press(pilot, "s")
        assert flipped is not None, "the shuffle never showed a pair flipped"
        card_a = app.screen.query(".candidate").first()
        assert "Second answer" in str(card_a.query_one(".candidate-body").content.plain)
        await press(pilot, "a")
        answer = pair_store.get_annotation(flipped.record.id, ANNOTATOR)
        assert answer.ranks == (2, 1)  # canonical candidate 1 ("Second answer") was A, and won


async def test_amending_a_pair_shows_the_earlier_decision(pair_store):
    app = make_app(pair_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        item = app.screen.session.current
        await press(pilot, "x", "u")
        assert app.screen.session.current.record.id == item.record.id
        subtitles = [str(card.border_subtitle) for card in app.screen.query(".candidate")]
        assert subtitles == ["both bad", "both bad"]
        await press(pilot, "2")
        assert stored_decision(pair_store, item.record.id) == ((2, 1), False)
        assert pair_store.get_annotation(item.record.id, ANNOTATOR).revision == 2
