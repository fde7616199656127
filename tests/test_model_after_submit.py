"""A dataset may show annotators the reward model's answer once they have submitted theirs
(calibration sessions); never before, and never where the dataset does not allow it."""

from __future__ import annotations

import pytest
from app_support import ANNOTATOR, build_store, make_app, pair_rows, press, settle

from store import AnnotationInput, PermissionDeniedError


@pytest.fixture
def scored_pairs(tmp_path):
    store = build_store(tmp_path, "pair", pair_rows(4))
    ids = store.record_ids("d")
    # The model prefers the second answer of every pair, by a margin of 2.
    store.save_scores("rm", [(r, i, 2.0 * i) for r in ids for i in range(2)])
    yield store, ids
    store.close()


def test_the_store_refuses_the_models_answer_before_submitting_or_without_the_setting(scored_pairs):
    store, ids = scored_pairs
    with pytest.raises(PermissionDeniedError, match="does not show the reward model's answer"):
        store.model_after_submit(ids[0], ANNOTATOR)
    store.update_dataset("d", settings={"model_after_submit": True})
    with pytest.raises(PermissionDeniedError, match="shown once you submit yours"):
        store.model_after_submit(ids[0], ANNOTATOR)
    store.save_annotation(AnnotationInput(ids[0], ANNOTATOR, "draft", (1, 2)))
    with pytest.raises(PermissionDeniedError, match="shown once you submit yours"):
        store.model_after_submit(ids[0], ANNOTATOR)  # a draft is not an answer yet
    store.save_annotation(AnnotationInput(ids[0], ANNOTATOR, "submitted", (1, 2)))
    assert store.model_after_submit(ids[0], ANNOTATOR) == [("rm", 0, 0.0), ("rm", 1, 2.0)]
    with pytest.raises(PermissionDeniedError):
        store.model_after_submit(ids[0], "someone-else")


async def test_after_submitting_the_annotator_sees_the_models_ranking_in_their_labels(scored_pairs):
    store, _ = scored_pairs
    store.update_dataset("d", settings={"model_after_submit": True})
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        item = app.screen.session.current
        assert not app._notifications  # nothing before answering
        await press(pilot, "a")
        await app.jobs.wait_until_done()
        await settle(pilot)
        notices = [str(n.message) for n in app._notifications]
        # The model's best is canonical candidate 1, shown as A when this annotator saw the pair flipped.
        best, other = ("A", "B") if item.shown_order == (1, 0) else ("B", "A")
        assert any(f"Reward model rm (its answer, shown after yours): {best} ≻ {other}" in n for n in notices), notices


async def test_without_the_setting_nothing_is_shown_after_submitting(scored_pairs):
    store, _ = scored_pairs
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await press(pilot, "a")
        await app.jobs.wait_until_done()
        await settle(pilot)
        assert not any("Reward model" in str(n.message) for n in app._notifications)
