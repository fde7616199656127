"""Ratings on several axes, thumbs and written answers in the store: their checks, what
each export makes of them, and agreement per axis."""

from __future__ import annotations

import pytest
from conftest import REPO, rank_rows

from store import AnnotationInput, InvalidInputError
from store.connect import open_store
from store.stats.agreement import rating_agreement
from store.types import ExportOptions

AXES = [
    {"name": "accuracy", "low": 1, "high": 7},
    {"name": "clarity", "low": 1, "high": 7, "required": False},
    {"name": "overall", "low": 1, "high": 7, "overall": True},
]


def rate(store, record_id, who, ratings, status="submitted", **kw):
    flat = tuple((i, axis, v) for i, by_axis in enumerate(ratings) for axis, v in by_axis.items())
    return store.save_annotation(AnnotationInput(record_id, who, status, ratings=flat, **kw))


@pytest.fixture
def rated(store, jsonl):
    store.import_file(
        jsonl(rank_rows(2, k=3)),
        dataset="r",
        task="rate",
        annotators_per_record=2,
        settings={"axes": AXES, "written_answers": True},
    )
    return store.record_ids("r")


def test_rate_answers_must_rate_every_candidate_on_every_required_axis(store, rated):
    record = rated[0]
    ok = [{"accuracy": 7, "overall": 6}, {"accuracy": 3, "overall": 2}, {"accuracy": 5, "overall": 5, "clarity": 4}]
    saved = rate(store, record, "ann", ok)
    assert (0, "accuracy", 7.0) in saved.ratings and saved.ranks == (0, 0, 0)
    assert store.get_annotation(record, "ann").ratings == saved.ratings
    with pytest.raises(InvalidInputError, match="candidate 2 needs a rating on 'overall' before submitting"):
        rate(store, record, "bob", [{"accuracy": 1, "overall": 1}, {"accuracy": 1, "overall": 1}, {"accuracy": 1}])
    rate(store, record, "bob", [{"accuracy": 1}], status="draft")  # a draft may be partial
    with pytest.raises(InvalidInputError, match=r"whole number from 1 to 7, not 9"):
        rate(store, record, "bob", [{"accuracy": 9, "overall": 1}] * 3)
    with pytest.raises(InvalidInputError, match="unknown axis 'beauty'"):
        rate(store, record, "bob", [{"beauty": 3}], status="draft")
    with pytest.raises(InvalidInputError, match="a rate answer gives no ranks"):
        store.save_annotation(AnnotationInput(record, "bob", "submitted", (1, 2, 3), ratings=((0, "accuracy", 1.0),)))


def test_preference_from_ratings_uses_the_overall_axis_or_given_weights(store, rated):
    record = rated[0]
    rate(
        store,
        record,
        "ann",
        [{"accuracy": 7, "overall": 2}, {"accuracy": 3, "overall": 6}, {"accuracy": 5, "overall": 6}],
    )
    overall = store.export_rows("r", ExportOptions("preference"))
    # overall: candidates 1 and 2 tie at 6 (no pair), both beat 0 by 4.
    assert sorted((p["chosen"], p["rejected"], p["margin"]) for p in overall) == [
        ("answer 0.1", "answer 0.0", 4.0),
        ("answer 0.2", "answer 0.0", 4.0),
    ]
    weighted = store.export_rows("r", ExportOptions("preference", weights={"accuracy": 1.0}))
    assert (weighted[0]["chosen"], weighted[0]["rejected"], weighted[0]["margin"]) == ("answer 0.0", "answer 0.1", 4.0)
    assert len(weighted) == 3
    with pytest.raises(InvalidInputError, match="unknown axis 'beauty' in --weights"):
        store.export_rows("r", ExportOptions("preference", weights={"beauty": 1.0}))
    kto = store.export_rows("r", ExportOptions("kto", threshold=5))
    assert [(k["completion"], k["label"]) for k in kto] == [
        ("answer 0.0", False),
        ("answer 0.1", True),
        ("answer 0.2", True),
    ]
    with pytest.raises(InvalidInputError, match="kto from ratings needs --threshold"):
        store.export_rows("r", ExportOptions("kto"))
    row = store.export_rows("r", ExportOptions("annotations"))[0]
    assert {"idx": 0, "axis": "overall", "value": 2.0} in row["ratings"]


def test_a_written_answer_beats_what_was_ranked_below_it_and_comes_first_for_sft(store, jsonl, rated):
    record = rated[0]
    ratings = [{"accuracy": 2, "overall": 5}, {"accuracy": 3, "overall": 3}, {"accuracy": 5, "overall": 1}]
    rate(store, record, "ann", ratings, written="The right answer, written by an expert.", written_rank=2)
    pairs = store.export_rows("r", ExportOptions("preference"))
    written = [(p["rejected"], p["margin"]) for p in pairs if p["chosen"].startswith("The right answer")]
    assert written == [("answer 0.1", 1.0), ("answer 0.2", 2.0)]  # candidate 0 (rank 1) stays above it
    sft = {r["record_id"]: r["completion"] for r in store.export_rows("r", ExportOptions("sft"))}
    assert sft[record] == "The right answer, written by an expert."
    store.import_file(jsonl(rank_rows(1), name="plain.jsonl"), dataset="plain")
    (plain,) = store.record_ids("plain")
    with pytest.raises(InvalidInputError, match="does not take written answers"):
        store.save_annotation(AnnotationInput(plain, "ann", "submitted", (1, 2, 3, 4), written="mine"))


def test_thumbs_give_kto_labels_and_pairs(store, jsonl):
    store.import_file(jsonl(rank_rows(1, k=3)), dataset="t", task="thumbs")
    (record,) = store.record_ids("t")
    good = (0, "good", 1.0), (1, "good", 0.0), (2, "good", 1.0)
    store.save_annotation(AnnotationInput(record, "ann", "submitted", ratings=good))
    assert [(k["completion"], k["label"]) for k in store.export_rows("t", ExportOptions("kto"))] == [
        ("answer 0.0", True),
        ("answer 0.1", False),
        ("answer 0.2", True),
    ]
    assert sorted((p["chosen"], p["rejected"]) for p in store.export_rows("t", ExportOptions("preference"))) == [
        ("answer 0.0", "answer 0.1"),
        ("answer 0.2", "answer 0.1"),
    ]
    with pytest.raises(InvalidInputError, match="whole number from 0 to 1"):
        store.save_annotation(AnnotationInput(record, "bob", "submitted", ratings=((0, "good", 2.0),)))
    with pytest.raises(InvalidInputError, match="candidate 1 needs a rating on 'good'"):
        store.save_annotation(AnnotationInput(record, "bob", "submitted", ratings=((0, "good", 1.0),)))


def test_agreement_per_axis_from_the_store(store, rated):
    for who, overall in (("ann", (6, 2, 4)), ("bob", (6, 3, 4))):
        rate(store, rated[0], who, [{"accuracy": 5, "overall": v} for v in overall])
    axes = {a.axis: a for a in rating_agreement(store.submitted_ratings("r"))}
    assert axes["accuracy"].krippendorff_interval == 1.0 and axes["overall"].units == 3
    assert 0 < axes["overall"].krippendorff_interval < 1


def test_axes_files_and_the_bundled_rate_sample(tmp_path, store, jsonl):
    from rlhf_tui.commands.core import read_axes

    axes = read_axes(REPO / "sample_data" / "rate_axes.toml")
    assert [a["name"] for a in axes] == ["accuracy", "helpfulness", "clarity", "overall"] and axes[-1]["overall"]
    bad = tmp_path / "bad.toml"
    bad.write_text('[[axis]]\nname = "x"\nlow = 5\nhigh = 1\n')
    with pytest.raises(
        InvalidInputError, match=r"bad.toml: axis 'x': low and high must be whole numbers with low < high"
    ):
        read_axes(bad)
    store.import_file(REPO / "sample_data" / "rate.jsonl", dataset="s", task="rate", settings={"axes": axes})
    assert len(store.record_ids("s")) == 10


def test_promoted_written_answers_become_candidates_for_the_others(store, rated):
    record = rated[0]
    rate(store, record, "ann", [{"accuracy": 4, "overall": 4}] * 3, written="An expert's answer.")
    with pytest.raises(InvalidInputError, match="set show_written first"):
        store.promote_written("r")
    store.update_dataset("r", settings={"show_written": True})
    assert store.promote_written("r") == 1
    assert store.promote_written("r") == 0  # already a candidate
    (fresh,) = [r for r in store.next_records("r", "bob", limit=2) if r.id == record]
    assert [(c.index, c.text, c.source) for c in fresh.candidates][-1] == (3, "An expert's answer.", "written:ann")
    rate(store, record, "bob", [{"accuracy": 5, "overall": 5}] * 4)  # bob rates all four now


def _promoted_authors(path, jsonl, seed: int | None) -> list[list[str]]:
    """The authors of each record's promoted answers, in the order they were appended (a fresh store)."""
    with open_store(path) as store:
        settings = {"axes": AXES, "written_answers": True, "show_written": True}
        store.import_file(
            jsonl(rank_rows(24, k=3)), dataset="d", task="rate", annotators_per_record=3, settings=settings
        )
        records = store.record_ids("d")
        for record in records:
            for who in ("ann", "bob", "cat"):
                rate(store, record, who, [{"accuracy": 4, "overall": 4}] * 3, written=f"{who}'s answer to {record}")
        assert store.promote_written("d", seed=seed) == 3 * len(records)
        return [[c.source for c in r.candidates[3:]] for r in store.get_records(records)]


def test_promoted_written_answers_are_appended_in_a_seeded_shuffle_not_their_authors_order(tmp_path, jsonl):
    shuffled = _promoted_authors(tmp_path / "a.duckdb", jsonl, seed=7)
    assert all(sorted(authors) == ["written:ann", "written:bob", "written:cat"] for authors in shuffled)
    assert any(authors != sorted(authors) for authors in shuffled), "every record lists its authors by name"
    assert len({tuple(authors) for authors in shuffled}) > 1  # not one fixed order either
    assert _promoted_authors(tmp_path / "b.duckdb", jsonl, seed=7) == shuffled  # the seed decides, nothing else
    assert _promoted_authors(tmp_path / "c.duckdb", jsonl, seed=None) != shuffled  # a fresh seed by default
