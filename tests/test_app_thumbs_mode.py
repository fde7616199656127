"""Thumbs mode: one key per candidate (y/+ good, n/- bad, the highlight moving on),
enter once every candidate has one, saved as ratings on the thumbs axis by canonical
index; drafts, amending and the refused incomplete submit."""

from __future__ import annotations

import pytest
from app_support import ANNOTATOR, arithmetic_rows, build_store, make_app, notices, press, settle

from rlhf_tui.app.annotate.thumbs import ThumbsScreen
from rlhf_tui.app.widgets import CandidateGrid
from store.types import THUMBS_AXIS


@pytest.fixture
def store(tmp_path):
    store = build_store(tmp_path, "thumbs", arithmetic_rows(4, candidates=3))
    yield store
    store.close()


def card_subtitles(app) -> list[str]:
    return [str(card.border_subtitle or "") for card in app.screen.query_one(CandidateGrid).cards]


async def test_one_key_per_candidate_then_enter_stores_thumbs_by_canonical_index(store):
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ThumbsScreen)
        item = app.screen.session.current
        assert item.shown_order != (0, 1, 2)
        await press(pilot, "y", "n", "plus")
        assert card_subtitles(app) == ["✔ good", "✖ bad", "✔ good"]
        await press(pilot, "enter")
        answer = store.get_annotation(item.record.id, ANNOTATOR)
        assert answer.status == "submitted"
        good = {position: 1.0 if position != 1 else 0.0 for position in range(3)}
        assert set(answer.ratings) == {(item.shown_order[p], THUMBS_AXIS, v) for p, v in good.items()}
        assert app.screen.session.current.record.id != item.record.id


async def test_submit_waits_for_every_thumb_and_highlights_the_first_missing(store):
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        record_id = app.screen.session.current.record.id
        await press(pilot, "3", "minus", "enter")
        assert app.screen.session.current.record.id == record_id
        assert "2 without one (1, 2)" in notices(app)[-1]
        assert app.screen.cursor == 0
        titles = [str(card.border_title) for card in app.screen.query_one(CandidateGrid).cards]
        assert titles == ["▶ 1 ◀", "2", "3"]
        await press(pilot, "y", "y", "enter")
        answer = store.get_annotation(record_id, ANNOTATOR)
        assert answer.status == "submitted" and len(answer.ratings) == 3


async def test_arrows_move_the_highlight_and_backspace_clears_a_thumb(store):
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await press(pilot, "down", "down", "up")
        assert app.screen.cursor == 1
        await press(pilot, "n", "up", "backspace")
        assert app.screen.thumbs == {}
        assert app.screen.cursor == 1


async def test_thumbs_are_kept_as_a_draft_and_amended_with_back(store):
    app = make_app(store, draft_delay_seconds=3600.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        item = app.screen.session.current
        await press(pilot, "n", "y", "q")
    assert store.get_annotation(item.record.id, ANNOTATOR).status == "draft"
    again = make_app(store)
    async with again.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert again.screen.session.current.record.id == item.record.id
        assert card_subtitles(again) == ["✖ bad", "✔ good", ""]
        assert again.screen.cursor == 2
        await press(pilot, "y", "enter", "u")
        assert again.screen.session.current.record.id == item.record.id
        await press(pilot, "1", "y", "enter")
        answer = store.get_annotation(item.record.id, ANNOTATOR)
        assert (item.shown_order[0], THUMBS_AXIS, 1.0) in answer.ratings
