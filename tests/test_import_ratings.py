"""Importing rated data: summarize-from-feedback's `axis` rows (one summary rated by one
worker per row, grouped into one record per post) and UltraFeedback's fine-grained ratings
with --keep-labels; located errors for bad ratings; gold records from --keep-labels gold."""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from store import AnnotationInput, InvalidInputError
from store.stats.agreement import compute_agreement, rating_agreement
from store.types import ExportOptions

SFB_AXES = ["overall", "accuracy", "coverage", "coherence"]
UF_AXES = ["instruction_following", "honesty", "truthfulness", "helpfulness"]


def sfb_row(post_id, text, worker, axes, policy="sup4", post="My cat ignores me.", title="Cat help", **info):
    return {
        "info": {"id": post_id, "post": post, "title": title, "subreddit": "cats", "site": None, **info},
        "summary": {"text": text, "policy": policy, "note": "", "axes": axes},
        "worker": worker,
        "batch": "batch1",
        "split": "valid1",
    }


def by_axis(answer):
    """{(candidate, axis): value} of an answer's ratings."""
    return {(i, axis): v for i, axis, v in answer.ratings}


@pytest.fixture
def sfb_rows():
    a = {"overall": 6, "accuracy": 7, "coverage": 5, "coherence": 7}
    return [
        sfb_row("t3_a", "Cat is aloof.", "w1", a, policy="ref"),
        sfb_row("t3_a", "The cat ignores its owner.", "w1", {**a, "overall": 3, "coverage": None}),
        sfb_row("t3_a", "Cat is aloof.", "w2", {**a, "overall": 5}, policy="sup4_ppo"),  # same text: deduped
        sfb_row("t3_b", "Dog barks.", "w1", a, post=None, title=None, article="A dog barked all night.", site="cnn"),
        sfb_row("t3_a", "Owner sad.", "w2", {**a, "overall": 2, "accuracy": None}),
        sfb_row("t3_b", "A dog was loud at night.", "w2", {**a, "overall": 7}),
    ]


# -- summarize from feedback, axis ------------------------------------------------------


def test_sfb_axis_rows_become_one_record_per_post_with_each_workers_ratings(store, jsonl, sfb_rows):
    report = store.import_file(jsonl(sfb_rows), dataset="sfb", keep_labels="openai")
    assert (report.format, report.rows_read, report.added, report.labels_recorded) == ("sfb-axis", 6, 2, 4)
    dataset = store.get_dataset("sfb")
    assert dataset.task == "rate"
    assert [(a["name"], a["low"], a["high"], a["overall"]) for a in dataset.settings["axes"]] == [
        ("overall", 1, 7, True),
        ("accuracy", 1, 7, False),
        ("coverage", 1, 7, False),
        ("coherence", 1, 7, False),
    ]
    post, article = store.get_records(store.record_ids("sfb"))
    assert (post.external_id, post.prompt) == ("t3_a", "Cat help\n\nMy cat ignores me.")
    assert [(c.text, c.source) for c in post.candidates] == [
        ("Cat is aloof.", "ref, sup4_ppo"),
        ("The cat ignores its owner.", "sup4"),
        ("Owner sad.", "sup4"),
    ]
    assert post.metadata == {"subreddit": "cats", "split": "valid1"}
    assert (article.external_id, article.prompt) == ("t3_b", "A dog barked all night.")
    assert article.metadata["site"] == "cnn"

    w1, w2 = store.get_annotation(post.id, "import:w1"), store.get_annotation(post.id, "import:w2")
    assert w1.status == "submitted" and w1.ranks == (0, 0, 0) and w1.shown_order == (0, 1, 2)
    assert by_axis(w1) == {
        (0, "overall"): 6,
        (0, "accuracy"): 7,
        (0, "coverage"): 5,
        (0, "coherence"): 7,
        (1, "overall"): 3,
        (1, "accuracy"): 7,  # coverage was null: not rated
        (1, "coherence"): 7,
    }
    assert by_axis(w2) == {
        (0, "overall"): 5,
        (0, "accuracy"): 7,
        (0, "coverage"): 5,
        (0, "coherence"): 7,
        (2, "overall"): 2,
        (2, "coverage"): 5,
        (2, "coherence"): 7,
    }
    assert store.get_annotation(article.id, "import:openai") is None  # a worker id is always there

    # Preference pairs come from the overall axis, per worker; margin = the rating gap.
    pairs = sorted(
        (p["annotator"], p["chosen"], p["rejected"], p["margin"])
        for p in store.export_rows("sfb", ExportOptions("preference"))
    )
    # t3_b: each worker rated one summary only, so neither gives a pair there.
    assert pairs == [
        ("import:w1", "Cat is aloof.", "The cat ignores its owner.", 3.0),
        ("import:w2", "Cat is aloof.", "Owner sad.", 3.0),
    ]

    # The workers' ratings give agreement per axis: both rated candidate 0 of t3_a.
    axes = {a.axis: a for a in rating_agreement(store.submitted_ratings("sfb"))}
    assert axes["overall"].units == 1 and axes["accuracy"].units == 1

    again = store.import_file(jsonl(sfb_rows), dataset="sfb", keep_labels="openai")
    assert (again.added, again.already_present, again.labels_recorded) == (0, 2, 0)


def test_sfb_axis_from_parquet_with_nested_structs_and_a_row_without_a_worker(store, tmp_path, sfb_rows):
    for row in sfb_rows:
        row["info"].setdefault("article", None)
    sfb_rows[3]["worker"] = None
    path = tmp_path / "axis.parquet"
    pq.write_table(pa.Table.from_pylist(sfb_rows), path)
    report = store.import_file(path, dataset="sfb", keep_labels="openai")
    assert (report.format, report.added, report.labels_recorded) == ("sfb-axis", 2, 4)
    post, article = store.get_records(store.record_ids("sfb"))
    assert len(post.candidates) == 3 and article.prompt == "A dog barked all night."
    assert by_axis(store.get_annotation(article.id, "import:openai")) == {
        (0, "overall"): 6,
        (0, "accuracy"): 7,
        (0, "coverage"): 5,
        (0, "coherence"): 7,
    }
    assert set(by_axis(store.get_annotation(article.id, "import:w2"))) == {(1, a) for a in SFB_AXES}


def test_sfb_axis_without_keep_labels_gives_a_rate_dataset_to_annotate(store, jsonl, sfb_rows):
    report = store.import_file(jsonl(sfb_rows), dataset="sfb")
    assert (report.added, report.labels_recorded) == (2, 0)
    assert store.get_dataset("sfb").task == "rate"
    assert store.submitted_ratings("sfb") == []
    record = store.record_ids("sfb")[1]
    full = tuple((i, axis, 4.0) for i in range(2) for axis in SFB_AXES)
    store.save_annotation(AnnotationInput(record, "ann", "submitted", ratings=full))


def test_a_bad_sfb_rating_is_located_and_skip_invalid_keeps_the_rest_of_the_post(store, jsonl, sfb_rows):
    sfb_rows[4]["summary"]["axes"]["coverage"] = 9
    path = jsonl(sfb_rows)
    with pytest.raises(InvalidInputError) as info:
        store.import_file(path, dataset="sfb", keep_labels="openai")
    assert (
        str(info.value)
        == f"{path}: line 5: field 'summary.axes.coverage': expected 1 to 7, got 9; nothing was imported"
    )
    report = store.import_file(path, dataset="sfb", keep_labels="openai", skip_invalid=True)
    assert report.rejected == (f"{path}: line 5: field 'summary.axes.coverage': expected 1 to 7, got 9",)
    assert (report.rows_read, report.added) == (6, 2)
    post = store.get_records(store.record_ids("sfb"))[0]
    assert [c.text for c in post.candidates] == ["Cat is aloof.", "The cat ignores its owner."]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["summary"]["axes"].update(overall="7"), "field 'summary.axes.overall': expected 1 to 7, got '7'"),
        (lambda r: r["summary"]["axes"].update(overall=2.5), "field 'summary.axes.overall': expected 1 to 7, got 2.5"),
        (lambda r: r["summary"].update(text=""), "field 'summary.text': empty text"),
        (lambda r: r["info"].update(post=None), "field 'info.post': missing (or 'info.article')"),
        (lambda r: r["info"].update(id=None), "field 'info.id': missing"),
        (lambda r: r.update(worker=5), "field 'worker': expected text, got a number"),
    ],
)
def test_bad_sfb_rows_are_located(store, jsonl, sfb_rows, change, message):
    change(sfb_rows[1])
    path = jsonl(sfb_rows)
    with pytest.raises(InvalidInputError, match="^" + re.escape(f"{path}: line 2: {message}")):
        store.import_file(path, dataset="sfb", keep_labels="openai")


def test_a_post_with_one_distinct_summary_is_rejected_by_its_id(store, jsonl, sfb_rows):
    rows = [r for r in sfb_rows if r["info"]["id"] == "t3_b"][:1] + sfb_rows[:3]
    path = jsonl(rows)
    report = store.import_file(path, dataset="sfb", skip_invalid=True)
    assert report.rejected == (f"{path}: line 1: post 't3_b': expected 2 to 9 different summaries, got 1",)
    assert report.added == 1


def test_sfb_keep_labels_needs_a_rate_dataset(store, jsonl, sfb_rows):
    with pytest.raises(
        InvalidInputError, match=r"^--keep-labels on sfb-axis data keeps ratings; the task must be rate"
    ):
        store.import_file(jsonl(sfb_rows), dataset="sfb", task="rank", keep_labels="openai")
    store.import_file(jsonl(sfb_rows), dataset="plain", task="rank")  # without labels: just the candidates
    assert store.get_dataset("plain").task == "rank" and "axes" not in store.get_dataset("plain").settings


# -- UltraFeedback fine-grained ratings -------------------------------------------------------


def uf_completion(response, model, ratings, overall=7.0):
    annotations = {}
    for axis, value in zip(UF_AXES, ratings):
        annotations[axis] = {"Rating": value, "Rationale": f"why {axis}"}
        if axis in ("truthfulness", "helpfulness"):
            annotations[axis].update({"Type": ["0"], "Rationale For Rating": "because"})
    return {
        "response": response,
        "model": model,
        "annotations": annotations,
        "critique": "fine",
        "custom_system_prompt": "",
        "principle": "helpfulness",
        "overall_score": overall,
        "fine-grained_score": 4.0,
    }


@pytest.fixture
def uf_rows():
    return [
        {
            "source": "evol_instruct",
            "instruction": "Write a haiku about rain.",
            "models": ["gpt-4", "llama"],
            "completions": [
                uf_completion("Rain taps the window", "gpt-4", ["5", "4", "5", "4"]),
                uf_completion("Rain is wet.", "llama", ["2", "N/A", "3", "1"]),
            ],
            "correct_answers": ["None"],
            "incorrect_answers": ["None"],
        },
        {
            "source": "sharegpt",
            "instruction": "Name a prime.",
            "models": ["a", "b", "c"],
            "completions": [
                uf_completion("7", "a", ["5", "5", "5", "5"]),
                uf_completion("9", "b", ["1", "1", "1", "1"]),
                uf_completion("2", "c", ["5", "5", "5", "N/A"]),
            ],
        },
    ]


def test_ultrafeedback_with_keep_labels_keeps_the_fine_grained_ratings(store, jsonl, uf_rows):
    report = store.import_file(jsonl(uf_rows), dataset="uf", keep_labels="ultrafeedback")
    assert (report.format, report.added, report.labels_recorded) == ("ultrafeedback", 2, 2)
    dataset = store.get_dataset("uf")
    assert dataset.task == "rate"
    assert [(a["name"], a["low"], a["high"], a["required"], a["overall"]) for a in dataset.settings["axes"]] == [
        (name, 1, 5, False, False) for name in UF_AXES
    ]
    haiku, prime = store.record_ids("uf")
    answer = store.get_annotation(haiku, "import:ultrafeedback")
    assert answer.status == "submitted" and answer.ranks == (0, 0)
    assert by_axis(answer) == {
        (0, "instruction_following"): 5,
        (0, "honesty"): 4,
        (0, "truthfulness"): 5,
        (0, "helpfulness"): 4,
        (1, "instruction_following"): 2,  # honesty N/A: not rated
        (1, "truthfulness"): 3,
        (1, "helpfulness"): 1,
    }
    assert len(store.get_annotation(prime, "import:ultrafeedback").ratings) == 11
    pairs = store.export_rows("uf", ExportOptions("preference", weights={"helpfulness": 1.0}))
    assert ("Rain taps the window", "Rain is wet.", 3.0) in [(p["chosen"], p["rejected"], p["margin"]) for p in pairs]


def test_ultrafeedback_from_parquet_with_keep_labels(store, tmp_path, uf_rows):
    for row in uf_rows:
        row.setdefault("correct_answers", [])
        row.setdefault("incorrect_answers", [])
    path = tmp_path / "uf.parquet"
    pq.write_table(pa.Table.from_pylist(uf_rows), path)
    report = store.import_file(path, dataset="uf", keep_labels="ultrafeedback")
    assert report.labels_recorded == 2
    (prime_answer,) = [store.get_annotation(store.record_ids("uf")[1], "import:ultrafeedback")]
    assert by_axis(prime_answer)[(1, "honesty")] == 1


def test_ultrafeedback_without_keep_labels_imports_as_before(store, jsonl, uf_rows):
    report = store.import_file(jsonl(uf_rows), dataset="uf")
    assert (report.added, report.labels_recorded) == (2, 0)
    assert store.get_dataset("uf").task == "rank" and store.submitted_ratings("uf") == []


def test_a_bad_ultrafeedback_rating_is_located(store, jsonl, uf_rows):
    rows = [uf_rows[0]] * 5 + [uf_rows[1], {**uf_rows[1], "instruction": "Name another prime."}]
    rows = [{**r, "instruction": f"{r['instruction']} ({i})"} for i, r in enumerate(rows)]
    rows[6]["completions"] = [dict(c) for c in rows[6]["completions"]]
    rows[6]["completions"][2] = uf_completion("2", "c", ["5", "9", "5", "5"])
    path = jsonl(rows)
    with pytest.raises(InvalidInputError) as info:
        store.import_file(path, dataset="uf", keep_labels="ultrafeedback")
    assert str(info.value) == (
        f"{path}: line 7: field 'completions[2].annotations.honesty.Rating': expected 1 to 5, got '9'"
        "; nothing was imported"
    )
    # Without --keep-labels the ratings are not read, so they cannot be wrong.
    assert store.import_file(path, dataset="plain").added == 7


@pytest.mark.parametrize(
    ("rating", "shown"),
    [(9, "9"), ("five", "'five'"), ("", "''"), ({"x": 1}, "an object"), (4.5, "4.5"), (True, "true/false")],
)
def test_each_kind_of_bad_ultrafeedback_rating_is_named(store, jsonl, uf_rows, rating, shown):
    uf_rows[1]["completions"][0]["annotations"]["truthfulness"]["Rating"] = rating
    path = jsonl(uf_rows)
    with pytest.raises(InvalidInputError) as info:
        store.import_file(path, dataset="uf", keep_labels="ultrafeedback")
    assert str(info.value).startswith(
        f"{path}: line 2: field 'completions[0].annotations.truthfulness.Rating': expected 1 to 5, got {shown}"
    )


def test_ultrafeedback_ratings_as_numbers_and_missing_annotations_are_accepted(store, jsonl, uf_rows):
    uf_rows[0]["completions"][0]["annotations"]["honesty"]["Rating"] = 3
    del uf_rows[0]["completions"][1]["annotations"]
    store.import_file(jsonl(uf_rows), dataset="uf", keep_labels="ultrafeedback")
    answer = store.get_annotation(store.record_ids("uf")[0], "import:ultrafeedback")
    assert by_axis(answer)[(0, "honesty")] == 3 and not any(i == 1 for i, _ in by_axis(answer))


def test_ultrafeedback_ratings_need_a_rate_dataset(store, jsonl, uf_rows):
    store.import_file(jsonl(uf_rows), dataset="uf")
    with pytest.raises(InvalidInputError, match="dataset 'uf' is a rank dataset; ultrafeedback ratings"):
        store.import_file(jsonl(uf_rows), dataset="uf", keep_labels="ultrafeedback")


def test_ratings_are_refused_by_a_rate_dataset_with_other_axes(store, jsonl, uf_rows, sfb_rows):
    store.import_file(jsonl(uf_rows, name="uf.jsonl"), dataset="mixed", keep_labels="ultrafeedback")
    with pytest.raises(InvalidInputError, match="dataset 'mixed' rates on instruction_following"):
        store.import_file(jsonl(sfb_rows, name="sfb.jsonl"), dataset="mixed", keep_labels="openai")


@pytest.mark.parametrize("which", ["uf", "sfb"])
def test_keep_labels_gold_is_refused_for_ratings(store, jsonl, uf_rows, sfb_rows, which):
    path = jsonl(uf_rows if which == "uf" else sfb_rows)
    with pytest.raises(InvalidInputError) as info:
        store.import_file(path, dataset="d", keep_labels="gold")
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("--keep-labels gold records chosen/rejected as gold reviews (trl or hh data)")
    assert store.list_datasets() == []


def test_keep_labels_still_refuses_native_data(store, jsonl):
    path = jsonl([{"prompt": "q", "responses": ["a", "b"]}])
    with pytest.raises(
        InvalidInputError, match=r"--keep-labels needs data that carries labels: chosen/rejected \(trl, hh\) or ratings"
    ):
        store.import_file(path, dataset="d", keep_labels="me")


# -- gold records ---------------------------------------------------------------------------


def test_keep_labels_gold_records_gold_reviews_that_score_each_annotator(store, jsonl):
    rows = [{"id": f"p{i}", "prompt": f"q{i}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(3)]
    report = store.import_file(jsonl(rows), dataset="g", keep_labels="gold")
    assert (report.format, report.labels_recorded) == ("trl", 3)
    ids = store.record_ids("g")
    assert all(store.get_annotation(i, "gold") is None for i in ids)  # not an annotator's answer
    review = store.get_review(ids[0])
    assert (review.reviewer, review.ranks, review.gold, review.accepted_from) == ("import", (1, 2), True, None)
    # ann is right on all three; bob on p0 only, wrong on p1, calls p2 a tie.
    for record, ann, bob in zip(ids, [(1, 2)] * 3, [(1, 2), (2, 1), (1, 1)]):
        store.save_annotation(AnnotationInput(record, "ann", "submitted", ann))
        store.save_annotation(AnnotationInput(record, "bob", "submitted", bob))
    report = compute_agreement("pair", store.submitted_rankings("g"), reviews=store.reviews("g"))
    assert [(g.annotator, g.compared, g.agreement) for g in report.gold] == [
        ("ann", 3, 1.0),
        ("bob", 3, pytest.approx(1 / 3)),
    ]
    again = store.import_file(jsonl(rows), dataset="g", keep_labels="gold")
    assert (again.added, again.labels_recorded) == (0, 0)
    assert store.get_review(ids[0]).revision == 1


def test_chosen_rejected_labels_are_refused_by_a_rate_or_thumbs_task(store, jsonl):
    path = jsonl([{"prompt": "q", "chosen": "a", "rejected": "b"}])
    for task in ("rate", "thumbs"):
        for who in ("gold", "me"):
            with pytest.raises(
                InvalidInputError, match=f"keeps which answer was chosen; the task must be pair or rank, not {task}"
            ):
                store.import_file(path, dataset="d", task=task, keep_labels=who)


def test_keep_labels_gold_on_hh_transcripts(store, jsonl):
    rows = [{"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "\n\nHuman: hi\n\nAssistant: go away"}]
    report = store.import_file(jsonl(rows), dataset="hh", keep_labels="gold")
    assert (report.format, report.labels_recorded) == ("hh", 1)
    (record,) = store.record_ids("hh")
    assert store.get_review(record).gold and store.get_review(record).ranks == (1, 2)
    assert store.submitted_rankings("hh") == []


def test_a_file_cannot_make_answers_that_an_annotator_then_owns(store, jsonl, sfb_rows):
    """A file whose `worker` (or --keep-labels NAME) is an annotator's user name records its labels
    under import:NAME: the annotator alice has no answer, can write her own, and cannot amend the file's."""
    for row in sfb_rows:
        row["worker"] = "alice"
    store.import_file(jsonl(sfb_rows), dataset="sfb", keep_labels="bob")
    post, _ = store.get_records(store.record_ids("sfb"))
    assert store.get_annotation(post.id, "alice") is None
    assert store.get_annotation(post.id, "import:alice").status == "submitted"
    assert {annotator for _, annotator, _ in store.submitted_ratings("sfb")} == {"import:alice"}
