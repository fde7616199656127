"""The reward model as an extra rater: agreement per annotator, blind spots and second looks,
the review order that walks them first, and `stats --agreement` printing them by record id."""

from __future__ import annotations

import math

import pytest
from conftest import rank_rows

from store import AnnotationInput
from store.stats.model_rater import model_agreement, model_answer, model_answers


def test_the_models_answer_ranks_by_score_with_its_margin():
    answer = model_answer([0.5, 2.0, 1.5])
    assert answer.ranks == (3, 1, 2) and answer.best == 1 and answer.margin == pytest.approx(0.5)
    assert answer.confidence == pytest.approx(1 / (1 + math.exp(-0.5)))
    assert model_answer([1.0, 1.0]).best is None  # a tie at the top names no best


def test_records_not_scored_on_every_candidate_have_no_model_answer():
    answers = model_answers([(1, 0, 1.0), (1, 1, 0.0), (2, 0, 1.0)], {1: 2, 2: 2, 3: 2})
    assert set(answers) == {1}


def test_each_annotator_is_compared_with_the_model_on_their_ordered_pairs():
    answers = {1: model_answer([3.0, 2.0, 1.0]), 2: model_answer([0.0, 1.0, 2.0])}
    rankings = [
        (1, "ann", (1, 2, 3), False),  # the model's order: 3 of 3 pairs
        (2, "ann", (1, 2, 3), False),  # reversed: 0 of 3
        (1, "bob", (2, 1, 3), False),  # 2 of 3
        (2, "bob", (1, 1, 1), False),  # all tied: nothing to compare
        (3, "bob", (1, 2, 3), False),  # not scored
    ]
    report = model_agreement("rm", rankings, answers)
    rows = {r.annotator: (r.compared, r.agreement) for r in report.by_annotator}
    assert rows["ann"] == (2, pytest.approx(0.5)) and rows["bob"] == (1, pytest.approx(2 / 3))
    assert report.records_scored == 2


def test_blind_spots_are_records_everyone_agrees_on_and_the_model_does_not():
    answers = {1: model_answer([0.0, 3.0]), 2: model_answer([3.0, 0.0]), 3: model_answer([0.0, 0.5])}
    rankings = [
        (1, "ann", (1, 2), False),
        (1, "bob", (1, 2), False),  # both chose A, the model B (margin 3): a blind spot
        (2, "ann", (1, 2), False),
        (2, "bob", (1, 2), False),  # both agree with the model
        (3, "ann", (1, 2), False),
        (3, "bob", (1, 2), False),  # a blind spot the model is less sure of: listed after
    ]
    report = model_agreement("rm", rankings, answers)
    assert [(d.record_id, d.model_best, d.annotators_best) for d in report.blind_spots] == [(1, 1, 0), (3, 1, 0)]


def test_second_looks_are_one_dissenting_annotator_against_a_confident_model():
    answers = {1: model_answer([4.0, 0.0]), 2: model_answer([0.3, 0.0]), 3: model_answer([4.0, 0.0])}
    rankings = [
        (1, "ann", (1, 2), False),
        (1, "bob", (2, 1), False),  # bob alone against a confident model: look again
        (2, "ann", (1, 2), False),
        (2, "bob", (2, 1), False),  # the model is not confident (σ(0.3) < 0.9)
        (3, "ann", (2, 1), False),
        (3, "bob", (2, 1), False),  # two dissent: a blind spot, not one label to check
    ]
    report = model_agreement("rm", rankings, answers)
    assert [(d.record_id, d.annotator, d.annotators_best) for d in report.second_looks] == [(1, "bob", 1)]
    assert [d.record_id for d in report.blind_spots] == [3]
    single = model_agreement("rm", [(1, "ann", (2, 1), False)], answers)
    assert [(d.record_id, d.annotator) for d in single.second_looks] == [(1, "ann")]  # K = 1 counts too


def dataset_with_answers(store, jsonl):
    store.import_file(jsonl(rank_rows(4, k=2)), dataset="d", annotators_per_record=2)
    ids = store.record_ids("d")
    answers = {  # record -> ann's and bob's ranks
        ids[0]: ((1, 2), (2, 1)),  # disputed
        ids[1]: ((1, 2), (1, 2)),  # both A, the model B: blind spot
        ids[2]: ((2, 1), (1, 2)),  # disputed; confident model says A: bob agrees, ann dissents
        ids[3]: ((1, 2), (1, 2)),  # everyone agrees with the model
    }
    for record_id, (a, b) in answers.items():
        store.save_annotation(AnnotationInput(record_id, "ann", "submitted", a))
        store.save_annotation(AnnotationInput(record_id, "bob", "submitted", b))
    scores = {ids[0]: (0.0, 0.1), ids[1]: (0.0, 5.0), ids[2]: (3.0, 0.0), ids[3]: (2.0, 0.0)}
    store.save_scores("rm", [(r, i, s) for r, pair in scores.items() for i, s in enumerate(pair)])
    return ids


def test_review_order_model_disagrees_walks_blind_spots_then_second_looks_first(store, jsonl):
    ids = dataset_with_answers(store, jsonl)
    walked = [item.record_id for item in store.review_queue("d", order="model-disagrees")]
    assert walked[:2] == [ids[1], ids[2]]
    assert sorted(walked) == sorted(ids)  # then every other record with two answers
    assert [i.record_id for i in store.review_queue("d", order="model-disagrees", offset=1, limit=1)] == [ids[2]]


def test_review_order_model_disagrees_without_scores_is_the_disputed_order(store, jsonl):
    store.import_file(jsonl(rank_rows(2, k=2)), dataset="d", annotators_per_record=2)
    for record_id in store.record_ids("d"):
        for who in ("ann", "bob"):
            store.save_annotation(AnnotationInput(record_id, who, "submitted", (1, 2)))
    assert store.review_queue("d", order="model-disagrees") == store.review_queue("d")


def test_the_reviewer_reads_a_records_scores_by_scorer(store, jsonl):
    ids = dataset_with_answers(store, jsonl)
    assert store.record_scores(ids[1]) == [("rm", 0, 0.0), ("rm", 1, 5.0)]
    assert store.dataset_scorers("d") == ["rm"]


def test_stats_agreement_lists_the_models_agreement_and_its_disagreements_by_record_id(capsys, jsonl, store_path):
    from store.connect import open_store

    with open_store(store_path) as s:
        dataset_with_answers(s, jsonl)
    from rlhf_tui.cli import main

    code = main(["stats", "-d", "d", "--agreement", "--store", str(store_path)])
    out = capsys.readouterr().out
    assert code == 0
    text = " ".join(out.split())
    assert "Agreement with the reward model rm" in text
    assert "Blind spots" in text and "Second looks" in text
    blind = out[out.index("Blind spots") : out.index("Second looks")]
    assert "r1" in blind and "r2" not in blind and "r0" not in blind
    second = out[out.index("Second looks") :]
    assert "r2" in second and "ann" in second
