"""Rank mode, key by key, and what lands in the store (canonical candidate indexes)."""

from __future__ import annotations

import pytest
from app_support import ANNOTATOR, arithmetic_rows, build_store, current_external_id, make_app, notices, press, settle

from rlhf_tui.app.widgets import CandidateGrid


@pytest.fixture
def rank_store(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(4, candidates=3))
    yield store
    store.close()


def ranks_by_position(store, record_id: int) -> tuple[int, ...]:
    """The stored ranks re-ordered into the positions this annotator saw."""
    answer = store.get_annotation(record_id, ANNOTATOR)
    return tuple(answer.ranks[canonical] for canonical in answer.shown_order)


def card_subtitles(app) -> list[str]:
    return [str(card.border_subtitle or "") for card in app.screen.query_one(CandidateGrid).cards]


async def test_number_keys_rank_and_enter_submits_in_canonical_order(rank_store):
    app = make_app(rank_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        first = app.screen.session.current
        await press(pilot, "3", "1")
        assert card_subtitles(app) == ["2nd", "3rd on submit", "1st"]
        await press(pilot, "enter")
        answer = rank_store.get_annotation(first.record.id, ANNOTATOR)
        assert answer.status == "submitted"
        assert answer.shown_order == first.shown_order
        assert ranks_by_position(rank_store, first.record.id) == (2, 3, 1)
        assert current_external_id(app) != first.record.external_id


async def test_cards_show_their_rank_as_it_changes(rank_store):
    app = make_app(rank_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await press(pilot, "2")
        assert card_subtitles(app) == ["", "1st", ""]
        await press(pilot, "1")
        assert card_subtitles(app) == ["2nd", "1st", "3rd on submit"]


async def test_pressing_a_number_again_takes_the_candidate_out(rank_store):
    app = make_app(rank_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await press(pilot, "1", "2", "1")
        assert app.screen.ranking.rank_of(0) == 0
        assert app.screen.ranking.rank_of(1) == 1


async def test_tie_key_makes_the_next_share_the_previous_rank(rank_store):
    app = make_app(rank_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        record_id = app.screen.session.current.record.id
        await press(pilot, "2", "t", "3")
        assert card_subtitles(app)[1:] == ["tied 1st", "tied 1st"]
        await press(pilot, "enter")
        assert ranks_by_position(rank_store, record_id) == (2, 1, 1)


async def test_tie_pending_at_submit_ties_the_last_candidate(rank_store):
    app = make_app(rank_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        record_id = app.screen.session.current.record.id
        await press(pilot, "1", "2", "t", "enter")
        assert ranks_by_position(rank_store, record_id) == (1, 2, 2)


async def test_backspace_clears_the_ranking(rank_store):
    app = make_app(rank_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await press(pilot, "1", "2", "backspace")
        assert app.screen.ranking.is_empty
        assert card_subtitles(app) == ["", "", ""]


async def test_enter_waits_until_all_but_one_are_ranked(rank_store):
    app = make_app(rank_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        record_id = app.screen.session.current.record.id
        await press(pilot, "1", "enter")
        assert app.screen.session.current.record.id == record_id
        assert rank_store.get_annotation(record_id, ANNOTATOR).status == "draft"
        await press(pilot, "3", "enter")  # the last one is ranked automatically
        assert ranks_by_position(rank_store, record_id) == (1, 3, 2)


async def test_numbers_beyond_the_candidates_do_nothing_and_are_not_offered(rank_store):
    app = make_app(rank_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await press(pilot, "4", "9")
        assert app.screen.ranking.is_empty
        offered = {b.binding.id for b in app.screen.active_bindings.values() if b.enabled}
        assert {"rank.candidate_1", "rank.candidate_3"} <= offered
        assert "rank.candidate_4" not in offered


async def test_nine_candidates_rank_with_every_number_key(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(2, candidates=9))
    app = make_app(store)
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        record_id = app.screen.session.current.record.id
        await press(pilot, "9", "8", "7", "6", "5", "4", "3", "2", "enter")
        assert ranks_by_position(store, record_id) == (9, 8, 7, 6, 5, 4, 3, 2, 1)
    store.close()


async def test_partial_ranking_is_a_draft_restored_after_the_app_closes(rank_store):
    app = make_app(rank_store, draft_delay_seconds=3600.0)  # only quitting saves it here
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        record_id = app.screen.session.current.record.id
        await press(pilot, "2", "t", "3")
        assert rank_store.get_annotation(record_id, ANNOTATOR) is None
        await press(pilot, "q")
    assert app.return_code == 0
    draft = rank_store.get_annotation(record_id, ANNOTATOR)
    assert draft.status == "draft"
    assert ranks_by_position(rank_store, record_id) == (0, 1, 1)

    again = make_app(rank_store)
    async with again.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert again.screen.session.current.record.id == record_id
        assert card_subtitles(again) == ["2nd on submit", "tied 1st", "tied 1st"]
        assert "draft restored" in str(again.screen.query_one("#status").render())
        await press(pilot, "enter")
        assert ranks_by_position(rank_store, record_id) == (2, 1, 1)
        assert rank_store.get_annotation(record_id, ANNOTATOR).status == "submitted"


async def test_ranking_changes_are_saved_as_a_draft_without_quitting(rank_store):
    app = make_app(rank_store)  # draft delay 0: saved on the next tick
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        record_id = app.screen.session.current.record.id
        await press(pilot, "3")
        await pilot.pause()
        await settle(pilot)
        assert rank_store.get_annotation(record_id, ANNOTATOR).status == "draft"
        assert ranks_by_position(rank_store, record_id) == (0, 0, 1)


async def test_a_warning_about_one_record_is_taken_down_when_the_next_record_shows(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(3, candidates=3))
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        first = app.screen.session.current.record.id
        app.notify("from the app", markup=False)  # not about a record: stays
        await press(pilot, "1", "enter")  # two candidates still unranked
        assert any(n.startswith("Rank every candidate first") for n in notices(app))
        await press(pilot, "s")  # skip: the next record shows
        assert app.screen.session.current.record.id != first
        assert not any(n.startswith("Rank every candidate first") for n in notices(app))
        assert "from the app" in notices(app)
    store.close()
