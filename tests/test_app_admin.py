"""The admin screen: progress per annotator, completion and agreement figures of the
dataset being annotated; the service's refusal shown instead for non-admins."""

from __future__ import annotations

import io

import pytest
from app_support import ANNOTATOR, arithmetic_rows, build_store, make_app, press, settle, two_annotators_answered
from rich.console import Console

from rlhf_tui.app.admin import AdminScreen
from store import PermissionDeniedError


def screen_text(screen, selector: str = "Static") -> str:
    console = Console(width=140, record=True, file=io.StringIO())
    for static in screen.query(selector):
        console.print(static.content)
    return console.export_text()


async def wait_for_agreement(pilot) -> None:
    """Wait for the agreement worker and the message it posted."""
    screen = pilot.app.screen
    for _ in range(50):
        await settle(pilot)
        workers = [w for w in screen.workers if w.group == "agreement"]
        if workers:  # (an empty list would wait for every worker, the store worker included)
            await pilot.app.workers.wait_for_complete(workers)
        await pilot.pause()
        if screen.figures is not None and not screen.computing:
            return
    raise AssertionError("the agreement figures never came")


@pytest.fixture
def answered_store(tmp_path):
    """Three rank records answered by alice and bob alike; bob also discarded one."""
    store = build_store(tmp_path, "rank", arithmetic_rows(5, candidates=3), annotators_per_record=2)
    two_annotators_answered(store)
    yield store
    store.close()


async def test_admin_screen_shows_counts_per_annotator_and_agreement(answered_store):
    app = make_app(answered_store)
    async with app.run_test(size=(140, 50)) as pilot:
        await settle(pilot)
        await press(pilot, "A")
        assert isinstance(app.screen, AdminScreen)
        await wait_for_agreement(pilot)
        text = screen_text(app.screen)
        rows = {
            line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:5]]
            for line in screen_text(app.screen, "#admin-counts").splitlines()
            if line.count("│") >= 5
        }
        assert rows["alice"] == ["3", "0", "0"]
        assert rows["bob"] == ["3", "0", "1"]
        assert "60.0% complete (3/5)" in text
        assert "records with 2+ submissions" in text
        # Identical rankings: Kendall's W is 1 on every record.
        assert any("mean Kendall's W" in line and "1.000" in line for line in text.splitlines())
        await press(pilot, "escape")
        assert not isinstance(app.screen, AdminScreen)
        assert app.screen.session.current is not None  # back to annotating where we were


class NotAnAdmin:
    """A real store whose admin-only reads are refused, as the service refuses a non-admin."""

    def __init__(self, store) -> None:
        self._store = store

    def _refuse(self, *args, **kwargs):
        raise PermissionDeniedError(f"status counts is for admins; {ANNOTATOR} is not one")

    status_counts = submitted_rankings = overfilled_records = _refuse

    def __getattr__(self, name):
        return getattr(self._store, name)


async def test_admin_screen_shows_the_refusal_to_a_non_admin(answered_store):
    app = make_app(NotAnAdmin(answered_store))
    async with app.run_test(size=(140, 50)) as pilot:
        await settle(pilot)
        await press(pilot, "A")
        await wait_for_agreement(pilot)
        text = screen_text(app.screen)
        assert f"status counts is for admins; {ANNOTATOR} is not one" in text
        assert "alice" not in text and "Kendall" not in text  # blind annotation: nobody else's figures
        assert not app._notifications  # shown on the screen, not as an error toast


async def test_admin_screen_shows_agreement_per_axis_on_a_rate_dataset(tmp_path):
    from app_support import AXES

    from store import AnnotationInput

    store = build_store(
        tmp_path, "rate", arithmetic_rows(2, candidates=2), annotators_per_record=2, settings={"axes": AXES}
    )
    try:
        axes = [a["name"] for a in AXES]
        for who, shift in (("alice", 0), ("bob", 1)):
            for record_id in store.record_ids("d"):
                ratings = tuple(
                    (i, axis, float(min(a["high"], a["low"] + i + shift)))
                    for i in range(2)
                    for axis, a in zip(axes, AXES)
                )
                store.save_annotation(AnnotationInput(record_id, who, "submitted", ratings=ratings))
        app = make_app(store)
        async with app.run_test(size=(140, 50)) as pilot:
            await settle(pilot)
            await press(pilot, "A")
            await wait_for_agreement(pilot)
            text = screen_text(app.screen)
            assert "Agreement per rating axis" in text and "cannot compute" not in text
            assert all(axis in text for axis in axes)
    finally:
        store.close()


async def test_review_opens_from_the_admin_screen_and_closes_back_to_it(answered_store):
    from rlhf_tui.app.review.screen import ReviewScreen

    app = make_app(answered_store)
    async with app.run_test(size=(140, 50)) as pilot:
        await settle(pilot)
        await press(pilot, "A")
        await wait_for_agreement(pilot)
        await press(pilot, "v")
        for _ in range(50):
            await settle(pilot)
            if isinstance(app.screen, ReviewScreen) and app.screen.dataset is not None:
                break
        assert isinstance(app.screen, ReviewScreen)
        await press(pilot, "1", "enter")  # accept the first annotator's answer
        await settle(pilot)
        await press(pilot, "q")
        for _ in range(50):
            await pilot.pause(0.05)
            if isinstance(app.screen, AdminScreen):
                break
        assert isinstance(app.screen, AdminScreen)
    reviews = answered_store.reviews("d")
    assert len(reviews) == 1 and answered_store.get_review(reviews[0][0]).accepted_from == "alice"
    assert answered_store.get_review(reviews[0][0]).reviewer == ANNOTATOR


async def test_admin_screen_says_which_scorer_orders_an_uncertain_queue(answered_store):
    answered_store.update_dataset("d", settings={"assignment": "uncertain"})
    ids = answered_store.record_ids("d")
    answered_store.save_scores("rm-\x1b[31mround2", [(i, j, float(j)) for i in ids for j in range(3)])
    app = make_app(answered_store)
    async with app.run_test(size=(140, 50)) as pilot:
        await settle(pilot)
        await press(pilot, "A")
        await wait_for_agreement(pilot)
        text = screen_text(app.screen, "#admin-completion")
        assert "Queue: uncertain by rm-" in text and "round2 (5 scored, last " in text
        assert "\x1b" not in text
