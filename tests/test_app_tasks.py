"""What every task mode shares: an empty candidate says so, the dataset picker opens
the demo's rate and thumbs samples in their modes, and the help lists the keys of the
mode on screen."""

from __future__ import annotations

import pytest
from app_support import AXES, build_store, make_app, press, screen_has, settle

from rlhf_tui.app.annotate.pair import PairScreen
from rlhf_tui.app.annotate.rank import RankScreen
from rlhf_tui.app.annotate.rate import RateScreen
from rlhf_tui.app.annotate.thumbs import ThumbsScreen
from rlhf_tui.app.screens import HelpScreen
from rlhf_tui.app.widgets import CandidateGrid
from rlhf_tui.commands.core import import_sample_data
from store.connect import open_store

SCREENS = {"rank": RankScreen, "pair": PairScreen, "rate": RateScreen, "thumbs": ThumbsScreen}


@pytest.mark.parametrize("task", list(SCREENS))
async def test_an_empty_candidate_says_so_in_every_mode(tmp_path, task):
    rows = [{"prompt": "Say something.", "chosen": "", "rejected": "Something."}]  # trl: empty answers kept
    settings = {"axes": AXES} if task == "rate" else None
    store = build_store(tmp_path, task, rows, settings=settings)
    app = make_app(store)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, SCREENS[task])
            assert screen_has(app, "(empty answer)")
            cards = app.screen.query_one(CandidateGrid).cards
            empty = [card for card in cards if card.text_length == 0]
            assert len(empty) == 1
    finally:
        store.close()


@pytest.mark.parametrize(("dataset", "screen"), [("sample-rate", RateScreen), ("sample-thumbs", ThumbsScreen)])
async def test_the_picker_opens_the_demos_rate_and_thumbs_samples(tmp_path, dataset, screen):
    store = open_store(tmp_path / "demo.duckdb")
    import_sample_data(store)
    app = make_app(store, dataset=None)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            names = [d.name for d in store.list_datasets()]
            for _ in range(names.index(dataset)):
                await pilot.press("down")
            await press(pilot, "enter")
            assert isinstance(app.screen, screen)
            assert app.screen.session.current is not None
            if screen is RateScreen:
                assert [axis.name for axis in app.screen.sheet.columns] == [
                    "accuracy",
                    "helpfulness",
                    "clarity",
                    "overall",
                ]
                assert app.screen.takes_written
    finally:
        store.close()


async def test_help_lists_the_keys_of_the_mode_on_screen(tmp_path):
    store = build_store(tmp_path, "rate", settings={"axes": AXES})
    app = make_app(store)
    try:
        async with app.run_test(size=(120, 60)) as pilot:
            await settle(pilot)
            await press(pilot, "question_mark")
            assert isinstance(app.screen, HelpScreen)
            assert screen_has(app, "rate.value_7") and screen_has(app, "rate.next_candidate")
            assert not screen_has(app, "rank.candidate_1") and not screen_has(app, "thumbs.good")
    finally:
        store.close()
