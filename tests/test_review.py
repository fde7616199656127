"""The team lead's loop in the store: the review queue, reviews with history, the
adjudicated export, agreement with the adjudicated answers and gold accuracy, who holds
what, releasing and reopening, and records named by the id from the imported file."""

from __future__ import annotations

import pytest
from conftest import rank_rows

from store import AnnotationInput, InvalidInputError
from store.stats.agreement import agreement_with_reference, compute_agreement, pairwise_accuracy
from store.types import ExportOptions, ReviewInput


def answer(store, record_id, who, ranks, **kw):
    return store.save_annotation(AnnotationInput(record_id, who, "submitted", tuple(ranks), **kw))


@pytest.fixture
def three_answers(store, jsonl):
    """Four 3-candidate records, each answered by ann, bob and cat (K = 3):
    r0 all agree, r1 one dissent, r2 everyone differs, r3 answered by ann and bob only."""
    store.import_file(jsonl(rank_rows(4, k=3)), dataset="d", annotators_per_record=3)
    ids = store.record_ids("d")
    plan = {
        ids[0]: {"ann": (1, 2, 3), "bob": (1, 2, 3), "cat": (1, 2, 3)},
        ids[1]: {"ann": (1, 2, 3), "bob": (1, 2, 3), "cat": (3, 2, 1)},
        ids[2]: {"ann": (1, 2, 3), "bob": (2, 3, 1), "cat": (3, 1, 2)},
        ids[3]: {"ann": (2, 1, 3), "bob": (1, 2, 3)},
    }
    for record_id, answers in plan.items():
        for who, ranks in answers.items():
            answer(store, record_id, who, ranks, comment="unsure" if (record_id, who) == (ids[3], "bob") else "")
    return ids


def test_review_queue_puts_the_most_disputed_first(store, three_answers):
    ids = three_answers
    queue = store.review_queue("d")
    assert [item.record_id for item in queue] == [ids[2], ids[1], ids[3], ids[0]]
    assert [item.external_id for item in queue] == ["r2", "r1", "r3", "r0"]
    assert (queue[0].answers, queue[0].distinct_answers) == (3, 3) and queue[-1].spread == 0
    assert [i.record_id for i in store.review_queue("d", order="commented")] == [ids[3]]
    assert [i.record_id for i in store.review_queue("d", order="annotator", annotator="cat")] == ids[:3]
    with pytest.raises(InvalidInputError, match="review order must be one of"):
        store.review_queue("d", order="random")


def test_reviews_keep_their_history_and_can_accept_one_annotators_answer(store, three_answers):
    record = three_answers[2]
    assert [a.annotator for a in store.record_answers(record)] == ["ann", "bob", "cat"]
    first = store.save_review(ReviewInput(record, "lead", (), accepted_from="bob", note="bob read the question"))
    assert (first.ranks, first.accepted_from, first.revision) == ((2, 3, 1), "bob", 1)
    second = store.save_review(ReviewInput(record, "lead", (1, 1, 2), note="a tie after all"))
    assert (second.ranks, second.revision, store.get_review(record).note) == ((1, 1, 2), 2, "a tie after all")
    assert [(r.ranks, r.revision) for r in store.review_history(record)] == [((2, 3, 1), 1)]
    with pytest.raises(InvalidInputError, match="ranks must be dense"):
        store.save_review(ReviewInput(record, "lead", (1, 3, 3)))
    with pytest.raises(InvalidInputError, match="dan has no submitted answer"):
        store.save_review(ReviewInput(record, "lead", (), accepted_from="dan"))


def test_adjudicated_export_uses_reviews_and_falls_back_for_the_rest(store, three_answers):
    ids = three_answers
    store.save_review(ReviewInput(ids[2], "lead", (3, 2, 1)))
    rows = store.export_rows("d", ExportOptions("preference", "adjudicated", fallback="majority"))
    reviewed = [(r["chosen"], r["rejected"]) for r in rows if r["record_id"] == ids[2]]
    assert sorted(reviewed) == sorted(
        [("answer 2.2", "answer 2.1"), ("answer 2.2", "answer 2.0"), ("answer 2.1", "answer 2.0")]
    )
    assert {r["annotator"] for r in rows if r["record_id"] == ids[2]} == {"adjudicated"}
    assert {r["annotator"] for r in rows if r["record_id"] != ids[2]} == {"majority"}
    assert {r["external_id"] for r in rows} == {"r0", "r1", "r2", "r3"}
    # r3: ann and bob disagree on 0 vs 1 (a draw, no pair) but agree both beat 2.
    assert sorted((r["chosen"], r["rejected"]) for r in rows if r["external_id"] == "r3") == [
        ("answer 3.0", "answer 3.2"),
        ("answer 3.1", "answer 3.2"),
    ]
    borda = store.export_rows("d", ExportOptions("preference", "adjudicated", fallback="borda"))
    assert {r["annotator"] for r in borda if r["record_id"] != ids[2]} == {"borda"}
    sft = {r["record_id"]: r["completion"] for r in store.export_rows("d", ExportOptions("sft", "adjudicated"))}
    assert sft[ids[2]] == "answer 2.2" and sft[ids[0]] == "answer 0.0"


def test_gold_accuracy_and_agreement_with_the_adjudicated_answers_match_a_hand_computed_case(store, three_answers):
    ids = three_answers
    store.save_review(ReviewInput(ids[1], "lead", (1, 2, 3), gold=True))
    store.save_review(ReviewInput(ids[2], "lead", (2, 3, 1)))
    report = compute_agreement("rank", store.submitted_rankings("d"), reviews=store.reviews("d"))
    # Gold is r1 only (1,2,3): ann and bob order all 3 pairs right, cat (3,2,1) none.
    assert [(g.annotator, g.compared, g.agreement) for g in report.gold] == [
        ("ann", 1, 1.0),
        ("bob", 1, 1.0),
        ("cat", 1, 0.0),
    ]
    # Adjudicated: r1 as above, r2 = (2,3,1): its ordered pairs are c2<c0, c2<c1, c0<c1.
    # ann (1,2,3): only c0<c1 right -> 1/3; bob (2,3,1) all right -> 1; cat (3,1,2): c2<c0 only -> 1/3.
    adjudicated = {a.annotator: (a.compared, a.agreement) for a in report.adjudicated}
    assert adjudicated["ann"] == (2, pytest.approx((1 + 1 / 3) / 2))
    assert adjudicated["bob"] == (2, pytest.approx(1.0))
    assert adjudicated["cat"] == (2, pytest.approx((0 + 1 / 3) / 2))
    assert pairwise_accuracy((1, 1, 2), (1, 2, 3)) == pytest.approx(2 / 3)  # a tie where the reference orders
    assert pairwise_accuracy((1, 2), (1, 1)) is None


def test_pair_agreement_with_a_reference_compares_labels():
    rankings = [(1, "ann", (1, 2), False), (1, "bob", (2, 1), False), (2, "ann", (1, 1), True)]
    reference = {1: ((1, 2), False), 2: ((1, 1), True)}
    got = agreement_with_reference("pair", rankings, reference)
    assert [(r.annotator, r.compared, r.agreement) for r in got] == [("ann", 2, 1.0), ("bob", 1, 0.0)]


def test_the_team_view_release_and_reopen(store, jsonl):
    store.import_file(jsonl(rank_rows(4, k=2)), dataset="d", annotators_per_record=2)
    ids = store.record_ids("d")
    held = [r.id for r in store.next_records("d", "ann", limit=2)]
    (done,) = store.next_records("d", "bob")
    answer(store, done.id, "bob", (1, 2))
    store.save_annotation(AnnotationInput(ids[3], "bob", "draft", (2, 1)))
    leases = store.active_leases("d")
    assert [(lease.annotator, lease.record_id, lease.external_id) for lease in leases] == [
        ("ann", held[0], "r0"),
        ("ann", held[1], "r1"),
    ]
    assert all(lease.since < lease.expires for lease in leases)
    activity = {a.annotator: a for a in store.team_activity("d")}
    assert (activity["ann"].leases, activity["ann"].submitted) == (2, 0)
    assert (activity["bob"].submitted, activity["bob"].submitted_today, activity["bob"].drafts) == (1, 1, 1)

    assert store.release_leases_of("d", "ann") == 2
    assert store.active_leases("d") == []
    store.reopen_record(done.id, "bob")
    assert store.get_annotation(done.id, "bob") is None
    assert [a.ranks for a in store.annotation_history(done.id, "bob")] == [(1, 2)]
    assert done.id in [r.id for r in store.next_records("d", "bob", limit=4)]  # it came back to bob
    assert store.progress("d", "bob").submitted == 0
    with pytest.raises(InvalidInputError, match="cat has no answer on record"):
        store.reopen_record(done.id, "cat")


def test_records_without_an_id_get_short_readable_ones_and_reimport_adds_nothing(store, jsonl):
    rows = [{"prompt": f"q{i}", "responses": ["a", "b"]} for i in range(3)]
    path = jsonl(rows)
    store.import_file(path, dataset="d")
    records = store.get_records(store.record_ids("d"))
    assert [r.external_id for r in records] == ["#1", "#2", "#3"]
    assert store.import_file(path, dataset="d").added == 0
    more = jsonl([{"prompt": "q9", "responses": ["a", "b"]}, {"id": "#5", "prompt": "own id", "responses": ["a", "b"]}])
    store.import_file(more, dataset="d")
    assert [r.external_id for r in store.get_records(store.record_ids("d"))][3:] == ["#4", "#5"]
    assert store.find_record("d", "#2") == records[1].id and store.find_record("d", "nope") is None
    assert store.external_ids([records[0].id]) == {records[0].id: "#1"}


def test_a_file_id_that_looks_like_ours_wins(store, jsonl):
    store.import_file(
        jsonl([{"id": "#1", "prompt": "mine", "responses": ["a", "b"]}, {"prompt": "auto", "responses": ["a", "b"]}]),
        dataset="d",
    )
    ext = [r.external_id for r in store.get_records(store.record_ids("d"))]
    assert ext[0] == "#1" and ext[1].startswith("sha256:")


def test_a_draft_on_a_record_that_filled_up_comes_back_and_says_so(store, jsonl):
    store.import_file(jsonl(rank_rows(2, k=2)), dataset="d", annotators_per_record=2)
    (record, _) = store.next_records("d", "ann", limit=2)
    store.save_annotation(AnnotationInput(record.id, "ann", "draft", (1, 2)))
    store.release_all_leases("ann")
    for who in ("bob", "cat"):
        answer(store, record.id, who, (2, 1))
    assert store.submission_counts([record.id]) == [2]
    assert store.next_records("d", "ann")[0].id == record.id  # not silently dropped
    answer(store, record.id, "ann", (1, 2))
    assert store.overfilled_records("d") == 1
