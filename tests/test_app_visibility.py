"""What the annotator must always see: the question being answered (the last user turn of
a chat), cards sized to their answers, who they are and on which dataset, the keys that
fit, feedback on a skip; Ctrl-C quits like q; skips are kept across a restart."""

from __future__ import annotations

import pytest
from app_support import (
    ANNOTATOR,
    arithmetic_rows,
    build_store,
    chat_rows,
    current_external_id,
    make_app,
    press,
    screen_has,
    settle,
)
from textual.widgets import Footer

from rlhf_tui.app.widgets import CandidateGrid, PromptView, StatusLine
from store.connect import open_store

LAST_TURN = "LAST QUESTION: and at 2,500 m"


def footer_keys(app) -> list[str]:
    return [key.key for key in app.screen.query_one(Footer).query("FooterKey")]


def status(app) -> str:
    return str(app.screen.query_one(StatusLine).content)


@pytest.fixture
def chat_store(tmp_path):
    store = build_store(tmp_path, "rank", chat_rows())
    yield store
    store.close()


async def test_the_last_user_turn_of_a_long_chat_is_on_screen_at_80x24(chat_store):
    app = make_app(chat_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause()
        assert screen_has(app, LAST_TURN)
        assert screen_has(app, "5 earlier turns")


async def test_collapsing_the_prompt_gives_the_answers_the_room(chat_store):
    app = make_app(chat_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        prompt, grid = app.screen.query_one(PromptView), app.screen.query_one(CandidateGrid)
        open_height, cards_height = prompt.outer_size.height, grid.outer_size.height
        await press(pilot, "p")
        await pilot.pause()
        assert prompt.outer_size.height == 3  # the border and one line
        assert grid.outer_size.height == cards_height + open_height - 3
        assert screen_has(app, LAST_TURN)  # the one line is the question being answered
        await press(pilot, "p")
        await pilot.pause()
        assert prompt.outer_size.height == open_height


async def test_short_answers_get_small_cards_and_long_ones_the_room(chat_store):
    app = make_app(chat_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause()
        cards = {card.text_length: card for card in app.screen.query_one(CandidateGrid).cards}
        heights = {length: card.outer_size.height for length, card in cards.items()}
        long_card = max(cards)
        assert heights[len("Use a pressure cooker.")] == 3  # no empty box under one line
        assert heights[long_card] > 3 * heights[len("Use a pressure cooker.")]


async def test_cards_of_short_answers_leave_no_empty_boxes(tmp_path):
    store = build_store(tmp_path, "rank", [{"id": "s", "prompt": "Q?", "responses": ["yes", "no", "maybe", "so"]}])
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.pause()
        assert {card.outer_size.height for card in app.screen.query_one(CandidateGrid).cards} == {3}
    store.close()


async def test_who_and_which_dataset_and_what_is_left_are_on_the_status_line(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(4, candidates=2), name="medical-qa")
    app = make_app(store, dataset="medical-qa", annotator="dr-alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert status(app).startswith(" dr-alice · medical-qa ")
        assert "4 left for you" in status(app)
        await press(pilot, "1", "enter")
        assert "3 left for you" in status(app)
    store.close()


async def test_the_footer_offers_every_key_that_fits_and_keeps_quit_and_help(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(2, candidates=3))
    app = make_app(store)
    async with app.run_test(size=(140, 30)) as pilot:
        await settle(pilot)
        keys = footer_keys(app)
        for key in ("s", "u", "d", "c", "p", "g", "e", "backspace", "t", "enter", "q", "question_mark"):
            assert key in keys
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        await pilot.pause()
        keys = footer_keys(app)
        for key in ("1", "2", "3", "enter", "t", "s", "u", "d", "q", "question_mark"):
            assert key in keys
        footer = app.screen.query_one(Footer)
        assert footer.virtual_size.width <= 80  # nothing cut off at the right
    store.close()


async def test_the_end_of_the_queue_offers_no_ranking_keys(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(1, candidates=2))
    app = make_app(store)
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "1", "enter")
        await pilot.pause()
        keys = footer_keys(app)
        assert "u" in keys and "q" in keys
        for key in ("1", "2", "t", "enter", "s", "d", "c", "backspace"):
            assert key not in keys
    store.close()


async def test_skip_says_so_and_the_record_says_it_was_skipped_when_it_comes_back(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(2, candidates=2))
    app = make_app(store)
    async with app.run_test(size=(120, 24)) as pilot:
        await settle(pilot)
        skipped = current_external_id(app)
        await press(pilot, "s")
        assert f"skipped {skipped}" in status(app)
        await press(pilot, "1", "enter")
        assert current_external_id(app) == skipped
        assert "you skipped this one earlier" in status(app)
    store.close()


async def test_a_skip_is_kept_across_a_restart(tmp_path):
    path = tmp_path / "store.duckdb"
    build_store(tmp_path, "rank", arithmetic_rows(3, candidates=2)).close()
    store = open_store(path)
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        skipped = current_external_id(app)
        await press(pilot, "s", "q")
    store.close()

    store = open_store(path)  # a new process would open the file again
    again = make_app(store)
    async with again.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        seen = []
        for _ in range(2):
            seen.append(current_external_id(again))
            await press(pilot, "1", "enter")
        assert skipped not in seen
        assert current_external_id(again) == skipped  # after the others
    store.close()


async def test_ctrl_c_saves_the_draft_and_quits_like_q(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(2, candidates=3))
    app = make_app(store, draft_delay_seconds=60.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        record_id = app.screen.session.current.record.id
        await pilot.press("2")
        await pilot.press("ctrl+c")
        await settle(pilot)
    assert app.return_code in (0, None)
    draft = store.get_annotation(record_id, ANNOTATOR)
    assert draft is not None and draft.status == "draft"
    assert len(store.next_records("d", "someone-else", limit=10)) == 2  # every lease released
    store.close()


async def test_earlier_chat_turns_show_one_line_each_above_the_question_where_there_is_room(tmp_path):
    store = build_store(tmp_path, "rank", chat_rows())
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.pause()
        prompt = app.screen.query_one(PromptView)
        earlier = prompt.query_one("#prompt-earlier")
        turns = app.screen.session.current.record.prompt
        assert earlier.region.height == len(turns) - 1  # the five turns before the question, one line each
        assert prompt.region.contains_region(earlier.region)  # there is room: all of them on screen
        assert prompt.region.contains_region(prompt.query_one("#prompt-body").region)
    store.close()


def card_titles(app) -> list[str]:
    return [str(card.border_title) for card in app.screen.query_one(CandidateGrid).cards]


async def test_a_card_longer_than_its_box_says_so_and_how_to_scroll_it_before_it_is_focused(tmp_path):
    store = build_store(tmp_path, "rank", chat_rows())
    app = make_app(store)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.pause()
        cards = app.screen.query_one(CandidateGrid).cards
        long_card = next(card for card in cards if card.max_scroll_y > 0)
        hidden = round(long_card.max_scroll_y)
        assert str(long_card.border_title).endswith(f"↓ {hidden} more lines: tab, ↓")
        assert all("more line" not in str(card.border_title) for card in cards if card is not long_card)
        long_card.focus()
        await pilot.pause()
        assert str(long_card.border_title).endswith(f"↓ {hidden} more lines: ↓ pgdn")
        await pilot.press("end")
        await pilot.pause()
        assert "more line" not in str(long_card.border_title)  # scrolled to its end: nothing below
    store.close()


async def test_the_focused_card_looks_different_from_the_first_ranked_one(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(2, candidates=3))
    app = make_app(store)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        cards = app.screen.query_one(CandidateGrid).cards
        cards[1].focus()
        await press(pilot, "1")  # the first card is ranked 1st, the second has the focus
        await pilot.pause()
        best, focused = cards[0], cards[1]
        assert str(best.border_subtitle) == "1st" and "focused" not in str(best.border_title)
        assert str(focused.border_title).endswith("focused")
        assert focused.styles.background != best.styles.background  # a shaded card, not only another border
    store.close()


async def test_the_footer_offers_tab_to_scroll_the_cards_where_there_is_room(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(2, candidates=3))
    app = make_app(store)
    async with app.run_test(size=(200, 40)) as pilot:
        await settle(pilot)
        footer = [(key.key_display, key.description) for key in app.screen.query("FooterKey")]
        assert ("⇥", "Scroll cards") in footer
    store.close()
