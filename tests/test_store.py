"""The store: migrations, locking, assignment, answers and their history."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import duckdb
import pytest
from conftest import rank_rows

from store import (
    AnnotationInput,
    InvalidInputError,
    SchemaTooNewError,
    StoreLockedError,
    UnknownDatasetError,
    shown_order,
)
from store.clock import utcnow
from store.connect import open_store
from store.db.migrations import SCHEMA_VERSION
from store.types import ReviewInput


def submit(store, record, annotator, ranks, **kw):
    return store.save_annotation(AnnotationInput(record.id, annotator, "submitted", tuple(ranks), **kw))


def test_migrations_are_recorded_and_not_rerun(store_path):
    open_store(store_path).close()
    con = duckdb.connect(str(store_path))
    versions = [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()]
    con.close()
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    open_store(store_path).close()  # a second open applies nothing and does not fail


def test_newer_schema_is_refused_clearly(store_path):
    open_store(store_path).close()
    con = duckdb.connect(str(store_path))
    con.execute("INSERT INTO schema_migrations VALUES (999, 'from_the_future', now()::TIMESTAMP)")
    con.close()
    with pytest.raises(SchemaTooNewError, match=r"newer rlhf-tui .*schema version 999"):
        open_store(store_path)


def test_second_process_gets_one_line_naming_the_holder(store_path, tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(store_path)!r}); print('ready', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLockedError) as err:
            open_store(store_path)
        message = str(err.value)
        assert f"PID {holder.pid}" in message and "rlhf-tui serve" in message and "\n" not in message
    finally:
        holder.kill()
        holder.wait()


def test_unknown_dataset_lists_the_known_ones(store, jsonl):
    store.import_file(jsonl(rank_rows(1)), dataset="alpha")
    with pytest.raises(UnknownDatasetError, match="no dataset named 'beta' \\(known: alpha\\)"):
        store.get_dataset("beta")


def test_spread_gives_the_fewest_submissions_first_then_import_order(store, jsonl):
    store.import_file(jsonl(rank_rows(4)), dataset="d", annotators_per_record=2)
    store.update_dataset("d", settings={"assignment": "spread"})
    r0, r1, r2, r3 = store.get_records(store.record_ids("d"))
    submit(store, r0, "ann", [1, 2, 3, 4])
    got = store.next_records("d", "bob", limit=4)
    assert [r.id for r in got] == [r1.id, r2.id, r3.id, r0.id]


def test_fill_is_the_default_with_overlap_and_completes_started_records_first(store, jsonl):
    store.import_file(jsonl(rank_rows(6)), dataset="d", annotators_per_record=3)
    ids = store.record_ids("d")
    r = store.get_records(ids)
    submit(store, r[2], "ann", [1, 2, 3, 4])
    submit(store, r[4], "ann", [1, 2, 3, 4])
    submit(store, r[4], "bob", [1, 2, 3, 4])
    got = [x.id for x in store.next_records("d", "carol", limit=6)]
    assert got == [ids[4], ids[2], ids[0], ids[1], ids[3], ids[5]]  # 2 answers, then 1, then untouched


def test_two_annotators_with_k2_overlap_on_their_first_records(store, jsonl):
    """The README's tour with -k 2: the second annotator starts where the first one did."""
    store.import_file(jsonl(rank_rows(10)), dataset="d", annotators_per_record=2)
    for _ in range(3):
        (record,) = store.next_records("d", "ann")
        submit(store, record, "ann", [1, 2, 3, 4])
    firsts = []
    for _ in range(3):
        (record,) = store.next_records("d", "bob")
        firsts.append(record.id)
        submit(store, record, "bob", [2, 1, 3, 4])
    assert firsts == store.record_ids("d")[:3]
    both = {rid for rid, who, _, _ in store.submitted_rankings("d") if who == "bob"}
    assert both == set(firsts) and store.overfilled_records("d") == 0


def test_calibration_records_go_to_every_annotator_first(store, jsonl):
    store.import_file(jsonl(rank_rows(5)), dataset="d")  # K = 1
    store.update_dataset("d", settings={"calibration": 2})
    ids = store.record_ids("d")
    for who in ("ann", "bob", "carol"):
        got = [r.id for r in store.next_records("d", who, limit=2)]
        assert got == ids[:2], who
        for record in store.get_records(got):
            submit(store, record, who, [1, 2, 3, 4])
    assert [r.id for r in store.next_records("d", "ann", limit=5)] == ids[2:]


def test_a_skipped_record_comes_back_after_the_others_also_after_a_restart(tmp_path, jsonl):
    path = tmp_path / "s.duckdb"
    with open_store(path) as s:
        s.import_file(jsonl(rank_rows(3)), dataset="d")
        ids = s.record_ids("d")
        (first,) = s.next_records("d", "ann")
        s.skip_record(first.id, "ann")
        assert [r.id for r in s.next_records("d", "bob")] == [ids[0]]  # skipping frees it for others
        s.release_all_leases("bob")
    with open_store(path) as s:
        assert [r.id for r in s.next_records("d", "ann", limit=3)] == [ids[1], ids[2], ids[0]]


def test_dataset_settings_are_checked(store, jsonl):
    store.import_file(jsonl(rank_rows(1)), dataset="d")
    with pytest.raises(InvalidInputError, match="assignment must be one of fill, spread"):
        store.update_dataset("d", settings={"assignment": "random"})
    with pytest.raises(InvalidInputError, match="unknown dataset setting 'colour'"):
        store.update_dataset("d", settings={"colour": 1})
    assert store.update_dataset("d", settings={"calibration": 3}).settings == {"calibration": 3}


def test_next_records_skips_answered_full_and_leased_records(store, jsonl):
    store.import_file(jsonl(rank_rows(3)), dataset="d")  # K = 1
    r0, r1, r2 = store.get_records(store.record_ids("d"))
    submit(store, r0, "ann", [1, 2, 3, 4])  # full
    leased = store.next_records("d", "carol", limit=1)
    assert [r.id for r in leased] == [r1.id]  # carol now holds r1
    assert [r.id for r in store.next_records("d", "dave", limit=5)] == [r2.id]
    # Leases expire: once carol's has run out, r1 is free again.
    later = utcnow() + timedelta(seconds=store.lease_seconds + 1)
    assert r1.id in [r.id for r in store.next_records("d", "erin", limit=5, now=later)]


def test_released_lease_frees_the_record(store, jsonl):
    store.import_file(jsonl(rank_rows(1)), dataset="d")
    (record,) = store.next_records("d", "carol")
    assert store.next_records("d", "dave") == []
    store.release_lease(record.id, "carol")
    assert [r.id for r in store.next_records("d", "dave")] == [record.id]


def test_exclude_and_drafts_first(store, jsonl):
    store.import_file(jsonl(rank_rows(3)), dataset="d")
    r0, r1, r2 = store.get_records(store.record_ids("d"))
    store.save_annotation(AnnotationInput(r2.id, "ann", "draft", (1, 0, 0, 0)))
    assert [r.id for r in store.next_records("d", "ann", limit=3)] == [r2.id, r0.id, r1.id]
    assert [r.id for r in store.next_records("d", "ann", limit=3, exclude=[r2.id, r0.id])] == [r1.id]


def test_amendment_keeps_history_and_results_use_canonical_indexes(store, jsonl):
    store.import_file(jsonl(rank_rows(1)), dataset="d")
    (record,) = store.get_records(store.record_ids("d"))
    order = shown_order(record.id, "ann", 4)
    first = submit(store, record, "ann", [2, 1, 3, 3], shown_order=order, comment="b is best", seconds_spent=12.5)
    assert (first.revision, first.ranks, first.shown_order) == (1, (2, 1, 3, 3), order)
    amended = submit(store, record, "ann", [1, 2, 3, 4], comment="changed my mind")
    assert (amended.revision, amended.ranks, amended.comment) == (2, (1, 2, 3, 4), "changed my mind")
    (old,) = store.annotation_history(record.id, "ann")
    assert (old.revision, old.ranks, old.comment, old.seconds_spent) == (1, (2, 1, 3, 3), "b is best", 12.5)


def test_resend_with_same_client_id_is_not_counted_twice(store, jsonl):
    store.import_file(jsonl(rank_rows(1)), dataset="d")
    (record,) = store.get_records(store.record_ids("d"))
    submit(store, record, "ann", [1, 2, 3, 4], client_id="c-1")
    again = submit(store, record, "ann", [1, 2, 3, 4], client_id="c-1")
    assert again.revision == 1 and store.annotation_history(record.id, "ann") == []


@pytest.mark.parametrize(
    "ranks, message",
    [
        ((1, 2, 3), "has 4 candidates but 3 ranks"),
        ((1, 2, 0, 3), "every candidate needs a rank"),
        ((1, 3, 3, 4), "dense from 1"),
        ((1, 2, 3, 5), "between 1 and 4"),
    ],
)
def test_invalid_rankings_are_refused(store, jsonl, ranks, message):
    store.import_file(jsonl(rank_rows(1)), dataset="d")
    (record,) = store.get_records(store.record_ids("d"))
    with pytest.raises(InvalidInputError, match=message):
        submit(store, record, "ann", ranks)
    assert store.get_annotation(record.id, "ann") is None


def test_discard_needs_no_ranks_and_counts_as_answered(store, jsonl):
    store.import_file(jsonl(rank_rows(1)), dataset="d")
    (record,) = store.next_records("d", "ann")
    store.save_annotation(AnnotationInput(record.id, "ann", "discarded", discard_reason="prompt is garbled"))
    assert store.next_records("d", "ann") == []
    progress = store.progress("d", "ann")
    assert (progress.submitted, progress.discarded, progress.dataset_complete_records) == (0, 1, 0)
    assert store.answered_record_ids("d", "ann") == [record.id]


def test_progress_and_summaries(store, jsonl):
    store.import_file(jsonl(rank_rows(4)), dataset="d", annotators_per_record=2)
    r0, r1, *_ = store.get_records(store.record_ids("d"))
    for who in ("ann", "bob"):
        submit(store, r0, who, [1, 2, 3, 4])
    submit(store, r1, "ann", [1, 1, 2, 3])
    progress = store.progress("d", "bob")
    assert (progress.submitted, progress.dataset_records, progress.dataset_complete_records) == (1, 4, 1)
    assert progress.remaining_for_annotator == 3
    (summary,) = store.list_datasets()
    assert (summary.records, summary.submissions, summary.complete_records, summary.percent_complete) == (4, 3, 1, 25.0)
    assert {(c.annotator, c.status, c.count) for c in store.status_counts("d")} == {
        ("ann", "submitted", 2),
        ("bob", "submitted", 1),
    }


def test_shown_order_is_stable_per_annotator_and_varies_across_them():
    assert shown_order(5, "ann", 4) == shown_order(5, "ann", 4)
    orders = {shown_order(5, f"user{i}", 4) for i in range(30)}
    assert len(orders) > 5 and all(sorted(o) == [0, 1, 2, 3] for o in orders)


def test_delete_dataset_removes_everything(store, jsonl):
    store.import_file(jsonl(rank_rows(2)), dataset="d")
    (record, _) = store.get_records(store.record_ids("d"))
    submit(store, record, "ann", [1, 2, 3, 4])
    store.save_review(ReviewInput(record.id, "lead", (1, 2, 3, 4), gold=True))
    store.save_review(ReviewInput(record.id, "lead", (2, 1, 3, 4)))
    store.skip_record(record.id + 1, "bob")
    with pytest.raises(InvalidInputError, match="holds 1 answers by 1 annotators; deleting it deletes them too"):
        store.delete_dataset("d")  # answers are deleted only when asked for twice
    assert store.delete_dataset("d", with_answers=True).answers == 1
    assert store.list_datasets() == []
    store.import_file(jsonl(rank_rows(2)), dataset="d")
    assert store.list_datasets()[0].submissions == 0
    # Record ids are handed out again: nothing of the old dataset may attach to the new records.
    assert store.reviews("d") == [] and store.get_review(record.id) is None
    assert store.review_history(record.id) == []
    assert [r.id for r in store.next_records("d", "bob", limit=2)] == store.record_ids("d")


def test_assignment_state_survives_reopen(store_path, jsonl):
    with open_store(store_path) as s:
        s.import_file(jsonl(rank_rows(5)), dataset="d", annotators_per_record=2)
        r0, r1, *_ = s.get_records(s.record_ids("d"))
        submit(s, r0, "ann", [1, 2, 3, 4])
        submit(s, r0, "bob", [1, 2, 3, 4])
        submit(s, r1, "ann", [1, 2, 3, 4])
        s.save_annotation(AnnotationInput(r1.id, "bob", "draft", (1, 0, 0, 0)))
        before = [r.id for r in s.next_records("d", "bob", limit=5)]
        s.release_all_leases("bob")
    with open_store(store_path) as s:  # rebuilt from the tables
        assert [r.id for r in s.next_records("d", "bob", limit=5)] == before
    assert before[0] == r1.id and r0.id not in before


def test_a_skipped_draft_waits_with_the_skipped_records(store, jsonl):
    store.import_file(jsonl(rank_rows(3)), dataset="d")
    ids = store.record_ids("d")
    (first,) = store.next_records("d", "ann")
    store.save_annotation(AnnotationInput(first.id, "ann", "draft", (1, 0, 0, 0)))
    store.skip_record(first.id, "ann")
    assert [r.id for r in store.next_records("d", "ann", limit=3)] == [ids[1], ids[2], ids[0]]


def test_a_full_record_cache_never_drops_a_record_being_asked_for(store, jsonl, monkeypatch):
    import store.db.records as record_queries

    monkeypatch.setattr(record_queries, "RECORD_CACHE_SIZE", 3)
    monkeypatch.setattr(record_queries, "READ_AHEAD", 0)
    store.import_file(jsonl(rank_rows(6)), dataset="d")
    ids = store.record_ids("d")
    store.get_records(ids[:3])
    got = store.get_records([ids[0], ids[3], ids[4]])  # one hit (the oldest) and two misses
    assert [r.id for r in got] == [ids[0], ids[3], ids[4]]
