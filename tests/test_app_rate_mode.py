"""Rate mode, key by key: the highlighted (candidate, axis) cell, digits that set it and
move on, the notice that blocks an incomplete submit, two-digit scales, rank_too, drafts
and amending, and what lands in the store (canonical candidate indexes)."""

from __future__ import annotations

import pytest
from app_support import (
    ANNOTATOR,
    AXES,
    arithmetic_rows,
    build_store,
    make_app,
    notices,
    press,
    screen_has,
    screen_lines,
    settle,
)

from rlhf_tui.app.annotate.rate import RateScreen
from rlhf_tui.app.widgets import CandidateGrid


def rate_store(tmp_path, axes=AXES, **settings):
    return build_store(tmp_path, "rate", arithmetic_rows(4, candidates=3), settings={"axes": axes, **settings})


@pytest.fixture
def store(tmp_path):
    store = rate_store(tmp_path)
    yield store
    store.close()


def card_subtitles(app) -> list[str]:
    return [str(card.border_subtitle or "") for card in app.screen.query_one(CandidateGrid).cards]


def cursor(app) -> tuple[int, str]:
    sheet = app.screen.sheet
    return sheet.position, sheet.axis.name


async def test_every_rating_by_digits_is_stored_by_canonical_index(store):
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, RateScreen)
        item = app.screen.session.current
        assert item.shown_order != (0, 1, 2)  # shuffled for this annotator: the test means something
        assert cursor(app) == (0, "accuracy")
        # Card by card: accuracy, clarity, overall; each digit moves on to the next empty cell.
        await press(pilot, "7", "6", "5")
        assert cursor(app) == (1, "accuracy")
        assert card_subtitles(app)[0] == "✔ rated"
        await press(pilot, "1", "2", "3", "4", "4", "4")
        await press(pilot, "enter")
        answer = store.get_annotation(item.record.id, ANNOTATOR)
        assert answer.status == "submitted"
        assert answer.shown_order == item.shown_order
        given = {0: (7, 6, 5), 1: (1, 2, 3), 2: (4, 4, 4)}  # by position on screen
        expected = {
            (item.shown_order[position], axis, float(value))
            for position, values in given.items()
            for axis, value in zip(("accuracy", "clarity", "overall"), values)
        }
        assert set(answer.ratings) == expected
        assert not any(answer.ranks)  # a rate answer without rank_too gives no ranks
        assert app.screen.session.current.record.id != item.record.id


async def test_a_missing_rating_blocks_submit_and_names_it(store):
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        record_id = app.screen.session.current.record.id
        await press(pilot, "7", "6", "5", "1", "tab", "3")  # candidate 2: accuracy 1, clarity skipped, overall 3
        await press(pilot, "enter")
        assert app.screen.session.current.record.id == record_id
        assert store.get_annotation(record_id, ANNOTATOR).status == "draft"
        notice = notices(app)[-1]
        assert "4 missing" in notice and "2 on clarity" in notice and "3 on accuracy" in notice
        assert cursor(app) == (1, "clarity")  # the highlight goes to the first missing rating
        await press(pilot, "2")  # on to the next empty one, not over overall's 3
        assert cursor(app) == (2, "accuracy")
        await press(pilot, "4", "4", "4", "enter")
        answer = store.get_annotation(record_id, ANNOTATOR)
        assert answer.status == "submitted"
        assert (app.screen.session.back_ids[-1], answer.ratings.count((answer.shown_order[1], "overall", 3.0))) == (
            record_id,
            1,
        )


async def test_arrows_and_tab_move_between_axes_and_candidates(store):
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await press(pilot, "right", "right")
        assert cursor(app) == (0, "overall")
        await press(pilot, "tab")
        assert cursor(app) == (1, "accuracy")  # after a candidate's last axis, the next candidate
        await press(pilot, "shift+tab")
        assert cursor(app) == (0, "overall")
        await press(pilot, "down", "down", "down", "left")
        assert cursor(app) == (2, "clarity")
        await press(pilot, "up")
        assert cursor(app) == (1, "clarity")
        titles = [str(card.border_title) for card in app.screen.query_one(CandidateGrid).cards]
        assert titles == ["1", "▶ 2 ◀", "3"]  # the card being rated is marked
        assert app.screen.focused is app.screen.query_one(CandidateGrid).cards[1]


async def test_a_digit_off_the_scale_is_refused_and_backspace_clears(store):
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await press(pilot, "8")
        assert app.screen.sheet.values == {}
        assert "accuracy takes 1 to 7" in notices(app)[-1]
        await press(pilot, "5", "shift+tab", "backspace")
        assert app.screen.sheet.values == {}


async def test_scales_above_nine_take_two_digits(tmp_path):
    axes = [{"name": "score", "low": 1, "high": 10}, {"name": "percent", "low": 1, "high": 100, "required": False}]
    store = rate_store(tmp_path, axes)
    app = make_app(store)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            sheet = app.screen.sheet
            await press(pilot, "1")
            assert sheet.typed == "1" and cursor(app) == (0, "score")  # 1 or 10: waits
            assert screen_has(app, "1…")
            await press(pilot, "0")
            assert sheet.value(0, 0) == 10 and cursor(app) == (0, "percent")
            await press(pilot, "1", "0", "0")
            assert sheet.value(0, 1) == 100
            await press(pilot, "1", "tab")  # a move sets what was typed
            assert sheet.value(1, 0) == 1 and cursor(app) == (1, "percent")
            await press(pilot, "1", "3")  # 13 of 1–100: nothing longer fits, set at once
            assert sheet.value(1, 1) == 13 and cursor(app) == (2, "score")
            await press(pilot, "1", "3")  # 13 is off 1–10: 1 is this cell's, 3 starts the next
            assert sheet.value(2, 0) == 1 and cursor(app) == (2, "percent") and sheet.typed == "3"
            await pilot.pause(1.0)  # a pause after a digit sets it
            await settle(pilot)
            assert sheet.value(2, 1) == 3 and sheet.typed == ""
            item = app.screen.session.current
            await press(pilot, "enter")
            answer = store.get_annotation(item.record.id, ANNOTATOR)
            assert answer.status == "submitted"
            assert (item.shown_order[0], "score", 10.0) in answer.ratings
            assert (item.shown_order[0], "percent", 100.0) in answer.ratings
    finally:
        store.close()


async def test_ratings_are_kept_as_a_draft_and_restored(store):
    app = make_app(store, draft_delay_seconds=3600.0)  # only quitting saves it
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        item = app.screen.session.current
        await press(pilot, "7", "6", "5", "2")
        await press(pilot, "q")
    draft = store.get_annotation(item.record.id, ANNOTATOR)
    assert draft.status == "draft"
    assert len(draft.ratings) == 4
    again = make_app(store)
    async with again.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert again.screen.session.current.record.id == item.record.id
        assert cursor(again) == (1, "clarity")  # where the work stopped
        assert again.screen.sheet.value(1, 0) == 2 and again.screen.sheet.value(0, 2) == 5
        await press(pilot, "3", "3", "4", "4", "4", "enter")
        assert store.get_annotation(item.record.id, ANNOTATOR).status == "submitted"


async def test_back_amends_an_earlier_rating(store):
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        first = app.screen.session.current
        await press(pilot, *"777666555", "enter")
        await press(pilot, "u")
        assert app.screen.session.current.record.id == first.record.id
        assert app.screen.sheet.value(2, 2) == 5
        await press(pilot, "down", "down", "right", "right", "backspace", "1", "enter")
        amended = store.get_annotation(first.record.id, ANNOTATOR)
        assert (first.shown_order[2], "overall", 1.0) in amended.ratings
        assert [h.status for h in store.annotation_history(first.record.id, ANNOTATOR)][-1] == "submitted"


async def test_rank_too_asks_for_ranks_as_well(tmp_path):
    store = rate_store(tmp_path, AXES[2:], rank_too=True)  # overall, then the rank column
    app = make_app(store)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            item = app.screen.session.current
            assert [axis.name for axis in app.screen.sheet.columns] == ["overall", "rank"]
            await press(pilot, "7", "1", "5", "3", "3")  # candidate 3 has no rank yet
            await press(pilot, "enter")
            assert "3 on rank" in notices(app)[-1]
            await press(pilot, "4")
            assert "rank takes 1 to 3" in notices(app)[-1]
            await press(pilot, "3", "enter")  # ranks 1, 3, 3: a gap
            assert "without gaps" in notices(app)[-1]
            assert app.screen.session.current.record.id == item.record.id
            await press(pilot, "up", "2", "right", "2", "enter")  # 1, 2, 2: a tie for second place
            answer = store.get_annotation(item.record.id, ANNOTATOR)
            assert answer.status == "submitted"
            by_position = tuple(answer.ranks[canonical] for canonical in item.shown_order)
            assert by_position == (1, 2, 2)
            assert card_subtitles(app) != []  # the next record is on screen
    finally:
        store.close()


HOSTILE_AXES = [
    {"name": "[bold red]acc[/]\x1b[2J", "low": 1, "high": 5, "guidance": "[link=https://evil.example]x[/link] \x07 ok"},
]


async def test_hostile_axis_names_and_guidance_are_shown_literally(tmp_path):
    store = rate_store(tmp_path, HOSTILE_AXES)
    app = make_app(store)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            assert screen_has(app, "[bold red]acc[/]␛[2J")
            assert screen_has(app, "[link=https://evil.example]x[/link]")
            await press(pilot, "9")
            assert "[bold red]acc[/]␛[2J takes 1 to 5" in notices(app)[-1]
            lines = screen_lines(app)
            assert not any("\x1b" in line or "\x07" in line for line in lines)  # nothing reaches the terminal raw
            header = next(line for line in lines if "[bold red]acc[/]" in line and "▶" not in line)
            assert "[bold red]acc[/]␛[2J" in header  # the sheet's column header, as well as the guidance line
    finally:
        store.close()


async def test_a_dataset_without_axes_says_so(tmp_path):
    # An import refuses a rate dataset without axes now; a store made before that may still hold one.
    store = build_store(tmp_path, "rate", arithmetic_rows(2, candidates=2), settings={"axes": AXES})
    store.update_dataset("d", settings={"axes": None})
    app = make_app(store)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            assert any("no rating axes" in n for n in notices(app))
            await press(pilot, "enter")
            assert store.get_annotation(app.screen.session.current.record.id, ANNOTATOR) is None
    finally:
        store.close()


# -- the sheet on its own (no screen) ---------------------------------------------------


def test_typing_waits_only_while_a_longer_value_could_follow():
    from rlhf_tui.app.annotate.rating_sheet import Axis, RatingSheet

    sheet = RatingSheet.for_record((1, 0), [Axis("a", 1, 10), Axis("b", -3, 3)], rank_too=False)
    assert sheet.type_char("1").waiting and sheet.value(0, 0) is None
    assert sheet.type_char("0").set and sheet.value(0, 0) == 10
    assert sheet.type_char("-").waiting  # a negative rating starts with '-'
    assert sheet.type_char("2").set and sheet.value(0, 1) == -2
    assert sheet.type_char("0").refusal == "a takes 1 to 10"  # 0 starts no value of 1–10
    assert sheet.type_char("-").refusal and not sheet.typed
    assert (sheet.position, sheet.column) == (1, 0)
    assert sheet.ratings() == ((1, "a", 10.0), (1, "b", -2.0))
