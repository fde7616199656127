"""Keys both modes share (skip, discard, back and amend, comment, guidelines, help,
prompt, expand, quit), the dataset picker, the keymap from the config file."""

from __future__ import annotations

import io

import pytest
from app_support import ANNOTATOR, arithmetic_rows, build_store, current_external_id, make_app, press, settle

from rlhf_tui.app.config import load_config
from rlhf_tui.app.keymap import binding_ids
from rlhf_tui.app.screens import DatasetPickerScreen, HelpScreen, TextPromptScreen
from rlhf_tui.app.widgets import CandidateGrid, GuidelinesPanel, PromptView


@pytest.fixture
def rank_store(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(4, candidates=2))
    yield store
    store.close()


async def test_skip_releases_the_record_and_it_comes_back_after_the_rest(rank_store):
    app = make_app(rank_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        skipped = current_external_id(app)
        await press(pilot, "s")
        assert current_external_id(app) != skipped
        # Released: another annotator may be given it at once.
        other = rank_store.next_records("d", "someone-else", limit=4)
        assert skipped in {r.external_id for r in other}
        for record in other:
            rank_store.release_lease(record.id, "someone-else")
        seen = []
        for _ in range(3):
            seen.append(current_external_id(app))
            await press(pilot, "1", "enter")
        assert skipped not in seen
        assert current_external_id(app) == skipped


async def test_discard_with_a_reason_and_escape_keeps_the_record(rank_store):
    app = make_app(rank_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        record_id = app.screen.session.current.record.id
        await press(pilot, "d")
        assert isinstance(app.screen, TextPromptScreen)
        await press(pilot, "escape")
        assert app.screen.session.current.record.id == record_id
        await press(pilot, "d")
        await pilot.press(*"off topic")
        await press(pilot, "enter")
        answer = rank_store.get_annotation(record_id, ANNOTATOR)
        assert (answer.status, answer.discard_reason) == ("discarded", "off topic")
        assert app.screen.session.current.record.id != record_id


async def test_back_amends_the_previous_answer_then_returns(rank_store):
    app = make_app(rank_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        first = app.screen.session.current.record.id
        await press(pilot, "1", "enter")
        second = app.screen.session.current.record.id
        await press(pilot, "u")
        assert app.screen.session.current.record.id == first
        assert app.screen.ranking.rank_of(0) == 1  # the earlier answer is shown
        await press(pilot, "backspace", "2", "enter")
        amended = rank_store.get_annotation(first, ANNOTATOR)
        assert amended.status == "submitted"
        assert amended.ranks[amended.shown_order[1]] == 1  # now the second card is best
        # The draft and the first submission are kept as history.
        assert [h.status for h in rank_store.annotation_history(first, ANNOTATOR)] == ["draft", "submitted"]
        assert app.screen.session.current.record.id == second


async def test_back_and_return_keeps_a_draft_already_saved(rank_store):
    app = make_app(rank_store)  # draft delay 0: every change is saved at once
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "1", "enter")
        here = app.screen.session.current.record.id
        await press(pilot, "2")
        assert rank_store.get_annotation(here, ANNOTATOR).status == "draft"
        await press(pilot, "u", "1", "enter")
        assert app.screen.session.current.record.id == here
        assert app.screen.ranking.rank_of(1) == 1  # not the record as it was fetched, before the draft


async def test_back_reaches_answers_from_an_earlier_session(rank_store):
    app = make_app(rank_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        first = app.screen.session.current.record.id
        await press(pilot, "2", "enter", "q")
    again = make_app(rank_store)
    async with again.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "u")
        assert again.screen.session.current.record.id == first
        assert again.screen.ranking.rank_of(1) == 1


async def test_back_with_nothing_answered_says_so(rank_store):
    app = make_app(rank_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        record_id = app.screen.session.current.record.id
        await press(pilot, "u")
        assert app.screen.session.current.record.id == record_id
        assert any("Nothing to go back to" in n.message for n in app._notifications)


async def test_comment_is_saved_with_the_answer(rank_store):
    app = make_app(rank_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        record_id = app.screen.session.current.record.id
        await press(pilot, "c")
        await pilot.press(*"both [b]fine[/b]")
        await press(pilot, "enter", "1", "enter")
        assert rank_store.get_annotation(record_id, ANNOTATOR).comment == "both [b]fine[/b]"


async def test_guidelines_panel_toggles_with_the_markdown(rank_store):
    app = make_app(rank_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        panel = app.screen.query_one(GuidelinesPanel)
        assert not panel.display or not panel.has_class("-open")
        await press(pilot, "g")
        assert panel.has_class("-open")
        assert "How to rank" in panel.query_one("Markdown").source
        await press(pilot, "g")
        assert not panel.has_class("-open")


async def test_help_lists_every_binding_id(rank_store):
    app = make_app(rank_store)
    async with app.run_test(size=(120, 60)) as pilot:
        await settle(pilot)
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        from rich.console import Console

        console = Console(width=140, record=True, file=io.StringIO())
        for static in app.screen.query("Static"):
            console.print(static.content)
        text = console.export_text()
        other_modes = ("pair.", "rate.", "thumbs.")  # rank mode's help: its own mode's keys only
        for binding_id in binding_ids():
            assert (binding_id in text) != binding_id.startswith(other_modes), binding_id
        await press(pilot, "escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_prompt_collapses_and_expands(rank_store):
    app = make_app(rank_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        prompt = app.screen.query_one(PromptView)
        await press(pilot, "p")
        assert prompt.has_class("-collapsed")
        await press(pilot, "p")
        assert not prompt.has_class("-collapsed")


async def test_a_megabyte_answer_opens_truncated_and_expands(tmp_path):
    huge = "word " * 200_000
    store = build_store(tmp_path, "rank", [{"id": "big", "prompt": "long?", "responses": [huge, "short"]}])
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        cards = app.screen.query_one(CandidateGrid).cards
        big = next(card for card in cards if card.text_length == len(huge))
        shown = big.query_one(".candidate-body").content
        assert sum(len(part.plain) for part in shown.renderables) < 21_000
        assert "more characters" in shown.renderables[-1].plain
        await press(pilot, "e")
        assert len(big.query_one(".candidate-body").content.plain) == len(huge)
    store.close()


async def test_quit_releases_every_lease(rank_store):
    app = make_app(rank_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert rank_store.next_records("d", "someone-else", limit=10) == []  # all leased ahead
        await press(pilot, "q")
    assert len(rank_store.next_records("d", "someone-else", limit=10)) == 4


async def test_nothing_left_says_so(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(1, candidates=2))
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "1", "enter")
        assert app.screen.session.current is None
        assert "Nothing left" in str(app.screen.query_one("#prompt-body").content)
    store.close()


async def test_picker_lists_datasets_and_opens_the_chosen_one(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(2, candidates=2), name="alpha")
    build_store(tmp_path, "pair", None, name="beta", store=store)
    app = make_app(store, dataset=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, DatasetPickerScreen)
        footer = [(key.key_display, key.description) for key in app.screen.query("FooterKey")]
        assert ("⏎", "Annotate") in footer  # the footer says how to choose, not only q and ?
        assert "↑ ↓ to move, enter to open it" in str(app.screen.query_one("#picker-note").content)
        await press(pilot, "down", "enter")
        await settle(pilot)
        assert app.screen.dataset.name == "beta" and app.screen.task_kind == "pair"
    store.close()


async def test_keys_are_remapped_from_the_config_file(rank_store, tmp_path, monkeypatch):
    config_file = tmp_path / "config.toml"
    config_file.write_text('prefetch = 2\n[keymap]\n"rank.tie" = "equals_sign"\n"annotate.skip" = "k"\n')
    monkeypatch.setenv("RLHF_TUI_CONFIG", str(config_file))
    config = load_config()
    assert config.prefetch == 2
    app = make_app(rank_store, keymap=config.keymap, prefetch=config.prefetch)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "1", "equals_sign")
        assert app.screen.ranking.tie_pending
        await press(pilot, "t")
        assert app.screen.ranking.tie_pending  # t no longer toggles the tie
        first = current_external_id(app)
        await press(pilot, "k")
        assert current_external_id(app) != first
