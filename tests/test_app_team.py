"""Seeing the team from the admin screen (who holds which record, pace, drafts; release
and reopen by keyboard), jumping to a record by its id from the file (`/`), and the
notice on a draft whose record filled up elsewhere."""

from __future__ import annotations

import pytest
from app_support import (
    ANNOTATOR,
    answer_as,
    arithmetic_rows,
    build_store,
    current_external_id,
    make_app,
    press,
    settle,
    two_annotators_answered,
)
from textual.widgets import DataTable

from rlhf_tui.app.admin import AdminScreen
from rlhf_tui.app.screens import ConfirmScreen, TextPromptScreen
from rlhf_tui.app.widgets import StatusLine
from store import PermissionDeniedError


def table_rows(screen, selector: str) -> dict[str, list[str]]:
    """The rows of one of the admin screen's tables, by their first cell."""
    table = screen.query_one(selector, DataTable)
    rows = [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]
    return {row[0]: row[1:] for row in rows}


async def open_admin(pilot) -> AdminScreen:
    await press(pilot, "A")
    screen = pilot.app.screen
    assert isinstance(screen, AdminScreen)
    await settle(pilot)
    assert screen.figures is not None
    return screen


async def select_team_row(pilot, screen: AdminScreen, annotator: str) -> None:
    table = screen.query_one("#admin-team", DataTable)
    table.focus()
    names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
    table.move_cursor(row=names.index(annotator))
    await pilot.pause()


@pytest.fixture
def team_store(tmp_path):
    """alice and bob answered r0–r2 alike (K = 2); carol holds two records and has a draft on one."""
    store = build_store(tmp_path, "rank", arithmetic_rows(8, candidates=3), annotators_per_record=2)
    ids = two_annotators_answered(store)
    held = store.next_records("d", "carol", limit=2, exclude=ids)
    answer_as(store, held[0].id, "carol", (1, 0, 0), status="draft")
    yield store, ids, held
    store.close()


async def test_admin_sees_who_holds_which_record_and_each_pace(team_store):
    store, _, held = team_store
    app = make_app(store)
    async with app.run_test(size=(140, 50)) as pilot:
        await settle(pilot)
        screen = await open_admin(pilot)
        team = table_rows(screen, "#admin-team")
        # submitted, drafts, today, per hour today (– under a minute of work), last answer, holding now
        assert team["alice"][:4] == ["3", "0", "3", "–"]
        assert team["alice"][4] == "just now"
        assert team["carol"][:2] == ["0", "1"] and team["carol"][5] == "2 records"
        assert team[ANNOTATOR][5] == f"{len(app.screen_stack[1].session.ahead) + 1} records"
        table = screen.query_one("#admin-leases", DataTable)
        leases = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
        assert {(row[0], row[1]) for row in leases} == {
            (lease.external_id, lease.annotator) for lease in store.active_leases("d")
        }
        carols = [row for row in leases if row[1] == "carol"]
        assert sorted(row[0] for row in carols) == sorted(r.external_id for r in held)
        assert carols[0][2] == "under a minute" and carols[0][3].endswith("min")


async def test_release_frees_the_selected_annotators_records_after_confirming(team_store):
    store, _, held = team_store
    app = make_app(store)
    async with app.run_test(size=(140, 50)) as pilot:
        await settle(pilot)
        screen = await open_admin(pilot)
        await select_team_row(pilot, screen, "carol")
        await press(pilot, "x")
        assert isinstance(app.screen, ConfirmScreen)
        await press(pilot, "n")  # no: nothing changes
        assert {lease.annotator for lease in store.active_leases("d")} >= {"carol"}
        await press(pilot, "x", "y")
        assert app.screen is screen
        assert "carol" not in {lease.annotator for lease in store.active_leases("d")}
        assert ANNOTATOR in {lease.annotator for lease in store.active_leases("d")}  # only carol's
        assert table_rows(screen, "#admin-team")["carol"][5] == "0 records"
        assert store.get_annotation(held[0].id, "carol").status == "draft"  # her draft is kept
        assert any("Released 2 record(s) carol held" in n.message for n in app._notifications)


async def test_reopen_sends_an_answer_back_to_its_annotator(team_store):
    store, ids, _ = team_store
    r1 = store.get_record(ids[1]).external_id
    app = make_app(store)
    async with app.run_test(size=(140, 50)) as pilot:
        await settle(pilot)
        screen = await open_admin(pilot)
        await select_team_row(pilot, screen, "alice")
        await press(pilot, "o")
        assert isinstance(app.screen, TextPromptScreen)
        await pilot.press(*r1)
        await press(pilot, "enter")
        assert isinstance(app.screen, ConfirmScreen)
        assert store.get_annotation(ids[1], "alice").status == "submitted"  # not before the yes
        await press(pilot, "y")
        assert store.get_annotation(ids[1], "alice") is None
        assert [a.status for a in store.annotation_history(ids[1], "alice")] == ["submitted"]
        assert table_rows(screen, "#admin-team")["alice"][0] == "2"
    # The record is alice's to answer again (it needs her second answer back).
    assert ids[1] in {r.id for r in store.next_records("d", "alice", limit=8)}


async def test_reopen_from_the_leases_table_takes_the_selected_record(team_store):
    store, _, held = team_store
    app = make_app(store)
    async with app.run_test(size=(140, 50)) as pilot:
        await settle(pilot)
        screen = await open_admin(pilot)
        leases = screen.query_one("#admin-leases", DataTable)
        leases.focus()
        rows = [(str(leases.get_row_at(i)[0]), str(leases.get_row_at(i)[1])) for i in range(leases.row_count)]
        leases.move_cursor(row=rows.index((held[0].external_id, "carol")))
        await pilot.pause()
        await press(pilot, "o")
        assert isinstance(app.screen, ConfirmScreen)  # no id to ask for: the selected lease's
        await press(pilot, "y")
        assert store.get_annotation(held[0].id, "carol") is None
        assert [a.status for a in store.annotation_history(held[0].id, "carol")] == ["draft"]


async def test_reopen_of_an_unknown_id_says_so(team_store):
    store, _, _ = team_store
    app = make_app(store)
    async with app.run_test(size=(140, 50)) as pilot:
        await settle(pilot)
        screen = await open_admin(pilot)
        await select_team_row(pilot, screen, "alice")
        await press(pilot, "o")
        await pilot.press(*"nope")
        await press(pilot, "enter", "y")
        assert any("No record 'nope'" in n.message for n in app._notifications)


class NotAnAdmin:
    """A real store whose admin-only reads are refused, as the service refuses a non-admin."""

    def __init__(self, store) -> None:
        self._store = store

    def _refuse(self, *args, **kwargs):
        raise PermissionDeniedError(f"the team view of the admin screen is for admins; {ANNOTATOR} is not one")

    status_counts = submitted_rankings = overfilled_records = active_leases = team_activity = _refuse

    def __getattr__(self, name):
        return getattr(self._store, name)


async def test_a_non_admin_sees_the_refusal_and_no_team(team_store):
    store, _, _ = team_store
    app = make_app(NotAnAdmin(store))
    async with app.run_test(size=(140, 50)) as pilot:
        await settle(pilot)
        screen = await open_admin(pilot)
        assert not screen.query_one("#admin-team", DataTable).display
        assert not screen.query_one("#admin-leases", DataTable).display
        await press(pilot, "x")
        assert app.screen is screen  # nothing selected to release
        assert not any(isinstance(s, ConfirmScreen) for s in app.screen_stack)


# -- jump to a record by id ------------------------------------------------------------


@pytest.fixture
def rank_store(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(5, candidates=2))
    yield store
    store.close()


async def test_slash_jumps_to_an_answered_record_to_amend_it_then_comes_back(rank_store):
    app = make_app(rank_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        first = current_external_id(app)
        await press(pilot, "1", "enter")
        await press(pilot, "2", "enter")
        third = current_external_id(app)
        await press(pilot, "slash")
        assert isinstance(app.screen, TextPromptScreen)
        await pilot.press(*first)
        await press(pilot, "enter")
        assert current_external_id(app) == first
        assert app.screen.ranking.rank_of(0) == 1  # the earlier answer, to amend
        assert "amending an earlier answer" in str(app.screen.query_one(StatusLine).content)
        await press(pilot, "backspace", "2", "enter")
        record_id = rank_store.find_record("d", first)
        amended = rank_store.get_annotation(record_id, ANNOTATOR)
        assert amended.ranks[amended.shown_order[1]] == 1
        assert current_external_id(app) == third  # back where we were


async def test_slash_with_an_unknown_id_gives_a_notice_and_stays(rank_store):
    app = make_app(rank_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        here = current_external_id(app)
        await press(pilot, "2")  # unsaved work on screen survives the failed jump
        await press(pilot, "slash")
        await pilot.press(*"r404")
        await press(pilot, "enter")
        assert current_external_id(app) == here
        assert app.screen.ranking.rank_of(1) == 1
        assert any("No record 'r404'" in n.message for n in app._notifications)


async def test_slash_to_a_record_fetched_ahead_shows_it_once(rank_store):
    app = make_app(rank_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        here = current_external_id(app)
        ahead = app.screen.session.ahead[1].record.external_id
        await press(pilot, "slash")
        await pilot.press(*ahead)
        await press(pilot, "enter")
        assert current_external_id(app) == ahead
        seen = [ahead]
        for _ in range(4):
            await press(pilot, "1", "enter")
            seen.append(current_external_id(app))
        assert seen[1] == here
        assert sorted(s for s in seen if s) == sorted(f"r{i}" for i in range(5))  # each once


# -- a draft whose record filled up elsewhere -------------------------------------------


async def test_a_draft_on_a_record_that_filled_up_elsewhere_says_so(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(3, candidates=2), annotators_per_record=1)
    record = store.next_records("d", ANNOTATOR, limit=1)[0]
    answer_as(store, record.id, ANNOTATOR, (1, 0), status="draft")
    store.release_all_leases(ANNOTATOR)
    answer_as(store, record.id, "alice", (1, 2))  # K = 1: full now
    app = make_app(store)
    try:
        async with app.run_test(size=(160, 30)) as pilot:
            await settle(pilot)
            assert current_external_id(app) == record.external_id  # the store hands the draft back
            status = str(app.screen.query_one(StatusLine).content)
            assert "filled up elsewhere" in status
            assert any("filled up while your draft waited" in n.message for n in app._notifications)
            await press(pilot, "enter")  # submitted anyway: an extra answer
            assert store.get_annotation(record.id, ANNOTATOR).status == "submitted"
            assert "filled up elsewhere" not in str(app.screen.query_one(StatusLine).content)
    finally:
        store.close()


async def test_a_draft_on_a_record_still_open_gives_no_notice(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(3, candidates=2), annotators_per_record=2)
    record = store.next_records("d", ANNOTATOR, limit=1)[0]
    answer_as(store, record.id, ANNOTATOR, (1, 0), status="draft")
    answer_as(store, record.id, "alice", (1, 2))  # one of two
    app = make_app(store)
    try:
        async with app.run_test(size=(160, 30)) as pilot:
            await settle(pilot)
            assert current_external_id(app) == record.external_id
            assert "draft restored" in str(app.screen.query_one(StatusLine).content)
            assert "filled up" not in str(app.screen.query_one(StatusLine).content)
            assert not any("filled up" in n.message for n in app._notifications)
    finally:
        store.close()


async def test_a_record_released_meanwhile_does_not_stop_the_others_being_renewed(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(8, candidates=2), annotators_per_record=1)
    app = make_app(store)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await settle(pilot)
            screen = app.screen
            ahead = [item.record.id for item in screen.session.ahead]
            store.release_lease(ahead[0], ANNOTATOR)  # an admin freed it, say
            before = {lease.record_id: lease.expires for lease in store.active_leases("d")}
            screen.feed.renew_leases()
            await settle(pilot)
            after = {lease.record_id: lease.expires for lease in store.active_leases("d")}
            assert ahead[0] not in after  # the store renews only what the annotator holds
            assert all(after[r] > before[r] for r in ahead[1:])  # the records after it were still renewed
    finally:
        store.close()
