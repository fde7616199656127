"""The `uncertain` strategy: records the reward model cannot separate come first, and everything
else (K, calibration, skips, leases, drafts) works as with `fill`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import rank_rows

from store import AnnotationInput, InvalidInputError
from store.clock import utcnow
from store.connect import open_store


def submit(store, record_id, annotator, status="submitted"):
    return store.save_annotation(AnnotationInput(record_id, annotator, status, (1, 2, 3)))


def scored(store, jsonl, n=6, k=1, **settings):
    """A dataset `d` of n records of 3 candidates with strategy uncertain; returns its ids."""
    store.import_file(jsonl(rank_rows(n, k=3)), dataset="d", annotators_per_record=k)
    store.update_dataset("d", settings={"assignment": "uncertain", **settings})
    return store.record_ids("d")


def margins(ids, values, scorer="rm"):
    """Scores whose top-two margin on record ids[i] is values[i] (None: not scored)."""
    rows = []
    for record_id, margin in zip(ids, values):
        if margin is not None:
            rows += [(record_id, 0, 5.0), (record_id, 1, 5.0 - margin), (record_id, 2, -10.0)]
    return rows


def order_of(store, annotator="ann", limit=20):
    got = [r.id for r in store.next_records("d", annotator, limit=limit)]
    store.release_all_leases(annotator)
    return got


def test_the_smallest_margin_comes_first_and_unscored_records_follow_in_import_order(store, jsonl):
    ids = scored(store, jsonl)
    store.save_scores("rm", margins(ids, [3.0, None, 0.1, 2.0, None, 0.5]))
    assert order_of(store) == [ids[2], ids[5], ids[3], ids[0], ids[1], ids[4]]


def test_before_any_score_the_queue_is_in_import_order(store, jsonl):
    ids = scored(store, jsonl)
    assert order_of(store) == ids
    info = store.queue_info("d")
    assert (info.strategy, info.scorers, info.scored_records, info.last_scored) == ("uncertain", (), 0, None)


def test_new_scores_reorder_the_queue_of_an_open_store_at_once(store, jsonl):
    ids = scored(store, jsonl, n=4)
    store.save_scores("rm", margins(ids, [0.1, 1.0, 2.0, 3.0]))
    assert store.next_records("d", "ann")[0].id == ids[0]
    store.save_scores("rm", margins(ids, [5.0, 4.0, 3.0, 0.2]))  # a retrained model, between rounds
    assert [r.id for r in store.next_records("d", "bob", limit=4)] == [ids[3], ids[2], ids[1]]  # ids[0]: ann's lease


def test_the_latest_scorer_orders_the_queue_unless_the_setting_names_one(store, jsonl):
    ids = scored(store, jsonl, n=3)
    store.save_scores("round1", margins(ids, [0.1, 1.0, 2.0], "round1"))
    store.save_scores("round2", margins(ids, [2.0, 1.0, 0.1], "round2"))
    assert order_of(store) == [ids[2], ids[1], ids[0]]
    assert store.queue_info("d").scorers == ("round2",)
    store.update_dataset("d", settings={"scorers": ["round1"]})
    assert order_of(store) == ids
    info = store.queue_info("d")
    assert info.scorers == ("round1",) and info.scored_records == 3
    assert abs(info.last_scored - utcnow()) < timedelta(minutes=5)


def test_with_two_scorers_where_they_disagree_most_comes_first(store, jsonl):
    ids = scored(store, jsonl, n=3, scorers=["seed1", "seed2"])
    a = [(i, 0, 1.0) for i in ids] + [(i, 1, 0.0) for i in ids]
    b = [(ids[0], 0, 1.0), (ids[0], 1, 0.0), (ids[1], 0, -3.0), (ids[1], 1, 0.0), (ids[2], 0, 0.0), (ids[2], 1, 0.5)]
    store.save_scores("seed1", a)
    store.save_scores("seed2", b)
    # ids[0]: both prefer candidate 0 alike; ids[1]: opposite and sure; ids[2]: opposite, less sure.
    assert order_of(store) == [ids[1], ids[2], ids[0]]
    assert store.queue_info("d").scorers == ("seed1", "seed2")


def test_scores_of_another_dataset_or_scorer_leave_the_order_alone(store, jsonl, tmp_path):
    ids = scored(store, jsonl, n=3, scorers=["rm"])
    store.import_file(jsonl(rank_rows(3, k=3, prefix="o"), "other.jsonl"), dataset="other")
    store.save_scores("rm", margins(ids, [2.0, 1.0, 0.1]))
    other = store.record_ids("other")
    store.save_scores("rm", margins(other, [0.1, 0.1, 0.1]))
    store.save_scores("not-chosen", margins(ids, [0.1, 1.0, 2.0]))
    assert order_of(store) == [ids[2], ids[1], ids[0]]


def test_with_k2_started_records_still_come_first_then_the_margin(store, jsonl):
    ids = scored(store, jsonl, n=4, k=2)
    store.save_scores("rm", margins(ids, [0.1, 3.0, 2.0, 1.0]))
    submit(store, ids[1], "ann")
    submit(store, ids[2], "ann")
    # One answer and one wanted: ids[2] (margin 2) before ids[1] (3); then the untouched ones by margin.
    assert order_of(store, "bob") == [ids[2], ids[1], ids[0], ids[3]]
    submit(store, ids[2], "bob")  # full now: nobody else is offered it
    assert order_of(store, "carol") == [ids[1], ids[0], ids[3]]


def test_calibration_records_drafts_and_skips_keep_their_places(store, jsonl):
    ids = scored(store, jsonl, n=6, calibration=1)
    store.save_scores("rm", margins(ids, [9.0, 4.0, 3.0, 2.0, 1.0, 0.1]))
    submit(store, ids[3], "ann", status="draft")
    (first,) = store.next_records("d", "ann")
    assert first.id == ids[3]  # the draft first
    store.skip_record(ids[5], "ann")  # the most uncertain one, skipped: it comes last
    # Then the calibration record, then by margin, and the skipped one at the end.
    assert order_of(store) == [ids[3], ids[0], ids[4], ids[2], ids[1], ids[5]]
    assert order_of(store, "bob")[:2] == [ids[0], ids[5]]  # skips are per annotator


def test_a_lease_holds_an_uncertain_record_for_its_holder(store, jsonl):
    ids = scored(store, jsonl, n=3)
    store.save_scores("rm", margins(ids, [2.0, 0.1, 1.0]))
    assert [r.id for r in store.next_records("d", "ann")] == [ids[1]]
    assert [r.id for r in store.next_records("d", "bob", limit=3)] == [ids[2], ids[0]]
    later = utcnow() + timedelta(seconds=store.lease_seconds + 1)
    assert [r.id for r in store.next_records("d", "carol", now=later)] == [ids[1]]  # an expired lease frees it


def test_answers_keep_the_order_in_step_after_a_restart(store_path, jsonl):
    with open_store(store_path) as s:
        ids = scored(s, jsonl, n=4)
        s.save_scores("rm", margins(ids, [3.0, 2.0, 1.0, 0.5]))
        submit(s, ids[3], "ann")
        s.release_all_leases("ann")
    with open_store(store_path) as s:
        assert [r.id for r in s.next_records("d", "bob", limit=4)] == [ids[2], ids[1], ids[0]]
        assert s.queue_info("d").scorers == ("rm",)


def test_a_reopened_answer_puts_its_record_back_in_the_uncertain_order(store, jsonl):
    ids = scored(store, jsonl, n=3)
    store.save_scores("rm", margins(ids, [1.0, 0.1, 2.0]))
    submit(store, ids[1], "ann")
    assert order_of(store, "bob") == [ids[0], ids[2]]
    store.reopen_record(ids[1], "ann")
    assert order_of(store, "bob") == [ids[1], ids[0], ids[2]]


def test_scores_of_unknown_candidates_are_refused_and_single_scores_do_not_count(store, jsonl):
    ids = scored(store, jsonl, n=3)
    with pytest.raises(InvalidInputError, match="has no candidate 5"):
        store.save_scores("rm", [(ids[0], 0, 1.0), (ids[0], 5, 1.0)])
    store.save_scores("rm", [(ids[0], 0, 1.0), (ids[1], 0, 1.0), (ids[1], 1, 0.5)])
    assert order_of(store) == [ids[1], ids[0], ids[2]]
    assert store.queue_info("d").scored_records == 1


@pytest.mark.parametrize(
    "scorers, message",
    [
        ([], "one or two scorer names"),
        (["a", "b", "c"], "one or two scorer names"),
        ("rm", "one or two scorer names"),
        ([""], "one or two scorer names"),
        (["a", "a"], "the same scorer twice"),
    ],
)
def test_the_scorers_setting_is_checked(store, jsonl, scorers, message):
    store.import_file(jsonl(rank_rows(1)), dataset="d")
    with pytest.raises(InvalidInputError, match=message):
        store.update_dataset("d", settings={"scorers": scorers})


def test_other_strategies_report_no_scorer(store, jsonl):
    store.import_file(jsonl(rank_rows(2)), dataset="d")
    store.save_scores("rm", margins(store.record_ids("d"), [0.1, 0.2]))
    info = store.queue_info("d")
    assert (info.strategy, info.scorers, info.last_scored) == ("spread", (), None)


def run(capsys, *args):
    from rlhf_tui.cli import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_datasets_and_settings_say_which_scorer_orders_the_queue(capsys, jsonl, store_path):
    data = jsonl(rank_rows(3, k=3))
    code, _, err = run(capsys, "import", str(data), "-d", "d", "--strategy", "uncertain", "--store", str(store_path))
    assert code == 0, err
    code, out, _ = run(capsys, "datasets", "--store", str(store_path))
    assert "nothing scored yet" in out
    with open_store(store_path) as s:
        ids = s.record_ids("d")
        s.save_scores("rm-round2", margins(ids, [1.0, 0.5, None]))
        stamp = s.queue_info("d").last_scored
    code, out, _ = run(capsys, "datasets", "--store", str(store_path))
    assert code == 0 and f"d: uncertain by rm-round2 (2 scored, last {stamp:%Y-%m-%d %H:%M} UTC)" in out, out
    code, out, _ = run(capsys, "settings", "-d", "d", "--scorer", "a", "--scorer", "b", "--store", str(store_path))
    assert code == 0 and "uncertain by a vs b" in out, out
    code, out, _ = run(capsys, "settings", "-d", "d", "--latest-scorer", "--store", str(store_path))
    said = " ".join(out.split())  # the line wraps at the terminal's width
    assert code == 0 and f"assignment uncertain by rm-round2 (2 scored, last {stamp:%Y-%m-%d %H:%M} UTC)" in said
    code, _, err = run(capsys, "settings", "-d", "d", "--scorer", "x", "--scorer", "x", "--store", str(store_path))
    assert code != 0 and "the same scorer twice" in err and "Traceback" not in err


def test_a_page_saved_without_reorder_leaves_the_queue_until_the_last_page(store, jsonl):
    ids = scored(store, jsonl, n=3)
    store.save_scores("rm", margins(ids[:1], [0.1]), reorder=False)
    assert order_of(store) == ids  # not ordered yet: the client has more pages to send
    store.save_scores("rm", margins(ids[1:], [2.0, 1.0]))
    assert order_of(store) == [ids[0], ids[2], ids[1]]


def test_a_candidate_scored_twice_in_one_save_keeps_its_last_score(store, jsonl):
    ids = scored(store, jsonl, n=2)
    store.save_scores("rm", [(ids[0], 0, 1.0), (ids[0], 0, 9.0), (ids[0], 1, 0.0), *margins(ids[1:], [2.0])])
    assert store.scores("d", "rm")[:2] == [(ids[0], 0, "rm", 9.0), (ids[0], 1, "rm", 0.0)]
    assert order_of(store) == [ids[1], ids[0]]  # margin 9 after margin 2, not a duplicate's 0
