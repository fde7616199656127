"""Written answers (`w`, datasets with written_answers): the editor starts from the best
candidate so far, the answer is saved with its rank among the candidates (first unless
the annotator says otherwise), shown as a card of its own, kept in drafts, and never
lets escape sequences into the screen."""

from __future__ import annotations

import pytest
from app_support import ANNOTATOR, AXES, arithmetic_rows, build_store, make_app, pair_rows, press, settle, shown_texts
from textual.widgets import Input, TextArea

from rlhf_tui.app.annotate.written_answer import WrittenAnswerScreen
from rlhf_tui.app.widgets import CandidateGrid


@pytest.fixture
def store(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(4, candidates=3), settings={"written_answers": True})
    yield store
    store.close()


def editor_text(app) -> str:
    return app.screen.query_one("#written-text", TextArea).text


async def replace_text(pilot, text: str) -> None:
    area = pilot.app.screen.query_one("#written-text", TextArea)
    area.load_text("")
    await pilot.press(*text)


async def set_rank(pilot, rank: str) -> None:
    rank_input = pilot.app.screen.query_one("#written-rank", Input)
    rank_input.value = ""
    rank_input.focus()
    await pilot.press(*rank)


async def test_written_answer_starts_from_the_best_and_is_saved_with_its_rank(store):
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        item = app.screen.session.current
        await press(pilot, "2", "w")  # the second card ranked first so far
        assert isinstance(app.screen, WrittenAnswerScreen)
        assert editor_text(app) == shown_texts(app.screen_stack[1])[1]
        await replace_text(pilot, "Four, because 2 + 2 = 4.")
        await set_rank(pilot, "2")
        await press(pilot, "ctrl+s")
        card = app.screen.query_one(CandidateGrid).written_card
        assert card is not None and str(card.border_title) == "✎ your answer"
        # between the candidates ranked 1st and 2nd, never "2nd" itself: that is a candidate's place
        assert "below your 1st, above your 2nd" in str(card.border_subtitle)
        ranked_second = [c for c in app.screen.query_one(CandidateGrid).cards if c.border_subtitle]
        assert [str(c.border_subtitle) for c in ranked_second] == ["1st"]
        await press(pilot, "1", "enter")
        answer = store.get_annotation(item.record.id, ANNOTATOR)
        assert (answer.status, answer.written, answer.written_rank) == ("submitted", "Four, because 2 + 2 = 4.", 2)
        assert app.screen.query_one(CandidateGrid).written_card is None  # the next record has none yet


async def test_written_answer_is_first_by_default_kept_in_a_draft_and_restored(store):
    app = make_app(store)  # draft delay 0
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        item = app.screen.session.current
        await press(pilot, "w")
        assert editor_text(app) == ""  # nothing ranked yet: an empty editor
        await pilot.press(*"My own answer")
        await press(pilot, "ctrl+s", "q")
    draft = store.get_annotation(item.record.id, ANNOTATOR)
    assert (draft.status, draft.written, draft.written_rank) == ("draft", "My own answer", 1)
    again = make_app(store)
    async with again.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert again.screen.session.current.record.id == item.record.id
        card = again.screen.query_one(CandidateGrid).written_card
        assert card is not None and "better than every candidate" in str(card.border_subtitle)
        await press(pilot, "w")
        assert editor_text(again) == "My own answer"  # the answer written before, not a candidate
        await press(pilot, "escape", "1", "2", "enter")
        answer = store.get_annotation(item.record.id, ANNOTATOR)
        assert (answer.status, answer.written, answer.written_rank) == ("submitted", "My own answer", 1)


async def test_saving_the_editor_empty_removes_the_written_answer(store):
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        item = app.screen.session.current
        await press(pilot, "w")
        await pilot.press(*"draft text")
        await press(pilot, "ctrl+s", "w")
        await replace_text(pilot, "  ")
        await press(pilot, "ctrl+s")
        assert app.screen.query_one(CandidateGrid).written_card is None
        await press(pilot, "1", "2", "enter")
        assert store.get_annotation(item.record.id, ANNOTATOR).written is None


async def test_a_rank_off_the_range_is_refused_in_the_editor(store):
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "w")
        await pilot.press(*"text")
        await set_rank(pilot, "9")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, WrittenAnswerScreen)
        assert "from 1 to 4" in str(app.screen.query_one("#written-error").render())


async def test_pasted_escape_sequences_become_visible_stand_ins(store):
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "w")
        app.screen.query_one("#written-text", TextArea).insert("ok\x1b[2J\u202e")
        await pilot.pause()
        assert editor_text(app) == "ok␛[2J⟦RLO⟧"


async def test_rate_mode_starts_the_written_answer_from_the_highest_overall(tmp_path):
    settings = {"axes": AXES, "written_answers": True}
    store = build_store(tmp_path, "rate", arithmetic_rows(2, candidates=3), settings=settings)
    app = make_app(store)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            item = app.screen.session.current
            await press(pilot, "7", "7", "3", "1", "1", "6", "w")  # candidate 2 is best overall so far
            assert editor_text(app) == shown_texts(app.screen_stack[1])[1]
            await press(pilot, "ctrl+s", "1", "1", "1", "enter")
            answer = store.get_annotation(item.record.id, ANNOTATOR)
            assert answer.status == "submitted"
            assert answer.written == item.record.candidates[item.shown_order[1]].text and answer.written_rank == 1
    finally:
        store.close()


async def test_pair_mode_takes_a_written_answer_with_the_decision(tmp_path):
    store = build_store(tmp_path, "pair", pair_rows(2), settings={"written_answers": True})
    app = make_app(store)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            item = app.screen.session.current
            await press(pilot, "w")
            await pilot.press(*"Neither: it is 42.")
            await press(pilot, "ctrl+s", "x")
            answer = store.get_annotation(item.record.id, ANNOTATOR)
            assert (answer.written, answer.both_bad) == ("Neither: it is 42.", True)
    finally:
        store.close()


async def test_w_is_not_offered_where_the_dataset_takes_no_written_answers(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(2, candidates=2))
    app = make_app(store)
    try:
        async with app.run_test(size=(200, 30)) as pilot:
            await settle(pilot)
            await press(pilot, "w")
            assert not isinstance(app.screen, WrittenAnswerScreen)
            offered = {b.binding.id for b in app.screen.active_bindings.values() if b.enabled}
            assert "annotate.write" not in offered and "annotate.skip" in offered
    finally:
        store.close()


async def test_at_80_by_24_the_rank_field_and_its_label_are_on_screen_and_tab_reaches_it(store):
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "1", "w")
        screen = app.screen
        assert isinstance(screen, WrittenAnswerScreen)
        rank_input = screen.query_one("#written-rank", Input)
        label = screen.query_one("#written-rank-label")
        whole = screen.region
        for widget in (rank_input, label):
            region = widget.region
            assert region.width > 0 and whole.contains_region(region), widget  # seen in full
        assert screen.query_one("#written-rank-hint").region.width > 0
        await pilot.press("tab")
        assert app.focused is rank_input  # tab moves into the field the annotator can see
