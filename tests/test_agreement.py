"""Agreement statistics: each figure against a worked example with a known answer, a
reference implementation (scipy where it has the statistic) or a brute-force computation
written out from the definition."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from scipy.stats import kendalltau, rankdata, spearmanr

from rlhf_tui.agreement_view import agreement_renderables
from store import AnnotationInput
from store.connect import open_store
from store.stats.agreement import (
    compute_agreement,
    kendall_tau_b,
    kendall_w,
    krippendorff_alpha,
    percent_agreement,
)

REPO = Path(__file__).resolve().parents[1]
PAIR_RANKS = {"A": ((1, 2), False), "B": ((2, 1), False), "tie": ((1, 1), False), "both_bad": ((1, 1), True)}


def pair_rows(answers: dict[int, dict[str, str]]) -> list[tuple]:
    """{record_id: {annotator: label}} -> submitted_rankings rows."""
    return [
        (rid, annotator, *PAIR_RANKS[label])
        for rid, by_annotator in answers.items()
        for annotator, label in by_annotator.items()
    ]


def ranking_answers(answers: dict[int, dict[str, tuple[int, ...]]]) -> list[tuple]:
    return [(rid, a, tuple(r), False) for rid, by_a in answers.items() for a, r in by_a.items()]


def random_dense_ranks(rng: random.Random, n: int) -> tuple[int, ...]:
    """A random ranking of n candidates with ties, in the store's dense form (1, 1, 2...)."""
    raw = [rng.randint(1, max(1, n - 1)) for _ in range(n)]
    dense = {v: i + 1 for i, v in enumerate(sorted(set(raw)))}
    return tuple(dense[v] for v in raw)


# -- Cohen's kappa ----------------------------------------------------------------------------


def test_cohen_kappa_textbook_two_by_two():
    # Wikipedia's example: 50 proposals, yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> 0.4.
    cells = [("A", "A", 20), ("A", "B", 5), ("B", "A", 10), ("B", "B", 15)]
    answers, rid = {}, 0
    for first, second, count in cells:
        for _ in range(count):
            answers[rid] = {"reader1": first, "reader2": second}
            rid += 1
    report = compute_agreement("pair", pair_rows(answers))
    assert report.pair.cohen_kappa == pytest.approx(0.4)
    assert report.pair.cohen_kappa_note == "reader1 and reader2 on 50 records"
    assert report.pair.percent_agreement == pytest.approx(35 / 50)


def test_cohen_kappa_matches_hand_computation_with_four_labels():
    rng = random.Random(7)
    labels = list(PAIR_RANKS)
    answers = {}
    for rid in range(120):
        first = rng.choice(labels)
        second = first if rng.random() < 0.5 else rng.choice(labels)
        answers[rid] = {"ann": first, "bea": second}
    # Reference from the confusion matrix: p_o on the diagonal, p_e from the margins.
    matrix = np.zeros((4, 4))
    for by_a in answers.values():
        matrix[labels.index(by_a["ann"]), labels.index(by_a["bea"])] += 1
    p = matrix / matrix.sum()
    p_o = np.trace(p)
    p_e = float(p.sum(axis=1) @ p.sum(axis=0))
    expected = (p_o - p_e) / (1 - p_e)
    assert compute_agreement("pair", pair_rows(answers)).pair.cohen_kappa == pytest.approx(expected)


def test_cohen_kappa_needs_exactly_two_annotators():
    answers = {1: {"a": "A", "b": "A"}, 2: {"a": "B", "c": "A"}}
    pair = compute_agreement("pair", pair_rows(answers)).pair
    assert pair.cohen_kappa is None
    assert "3 annotators" in pair.cohen_kappa_note and "exactly two" in pair.cohen_kappa_note


def test_cohen_kappa_undefined_when_both_always_give_one_label():
    pair = compute_agreement("pair", pair_rows({1: {"a": "A", "b": "A"}, 2: {"a": "A", "b": "A"}})).pair
    assert pair.cohen_kappa is None and "undefined" in pair.cohen_kappa_note
    assert pair.krippendorff_alpha == 1.0


# -- Krippendorff's alpha -------------------------------------------------------------------

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C:
# 4 observers x 12 units, nominal data with missing values ("." = None).
_ = None
KRIPPENDORFF_TABLE = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    "C": [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
}
KRIPPENDORFF_UNITS = [list(values) for values in zip(*KRIPPENDORFF_TABLE.values())]


def brute_force_alpha(units, level):
    """Alpha from the pairable-values definition, one value instance at a time.

    Pairable values are the values in units coded by two or more coders; n is their number.
    D_o = 1/n * sum over units u of 1/(m_u - 1) * sum over ordered pairs of distinct value
          instances i != j within u of delta^2(v_i, v_j)
    D_e = 1/(n (n - 1)) * sum over ordered pairs of distinct instances i != j anywhere of
          delta^2(v_i, v_j)
    nominal delta^2 = 0 if equal else 1; ordinal delta^2(c, k) = (number of pairable values
    between c and k inclusive - (number equal to c + number equal to k) / 2)^2.
    alpha = 1 - D_o / D_e."""
    pairable = [[v for v in u if v is not None] for u in units]
    pairable = [u for u in pairable if len(u) >= 2]
    instances = [v for u in pairable for v in u]
    n = len(instances)

    def delta2(c, k):
        if level == "nominal":
            return 0.0 if c == k else 1.0
        if level == "interval":
            return float(c - k) ** 2
        low, high = min(c, k), max(c, k)
        between = sum(1 for g in instances if low <= g <= high)
        return (between - (instances.count(c) + instances.count(k)) / 2) ** 2

    d_o = (
        sum(
            sum(delta2(u[i], u[j]) for i in range(len(u)) for j in range(len(u)) if i != j) / (len(u) - 1)
            for u in pairable
        )
        / n
    )
    d_e = sum(delta2(instances[i], instances[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    return 1 - d_o / d_e


def test_krippendorff_alpha_nominal_reproduces_the_worked_example():
    assert krippendorff_alpha(KRIPPENDORFF_UNITS, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(KRIPPENDORFF_UNITS, "nominal") == pytest.approx(
        brute_force_alpha(KRIPPENDORFF_UNITS, "nominal")
    )


def test_krippendorff_alpha_ordinal_matches_brute_force_and_the_paper():
    # The same paper reports ordinal alpha = 0.815 for this table.
    assert krippendorff_alpha(KRIPPENDORFF_UNITS, "ordinal") == pytest.approx(0.815, abs=5e-4)
    rng = random.Random(3)
    for _trial in range(25):
        units = [
            [rng.randint(1, 5) if rng.random() < 0.8 else None for _coder in range(rng.randint(1, 4))]
            for _unit in range(rng.randint(3, 10))
        ]
        if len({v for u in units if sum(x is not None for x in u) >= 2 for v in u if v is not None}) < 2:
            continue
        for level in ("nominal", "ordinal"):
            assert krippendorff_alpha(units, level) == pytest.approx(brute_force_alpha(units, level)), (units, level)


def test_krippendorff_alpha_edge_cases():
    assert krippendorff_alpha([[1], [2, None]], "nominal") is None  # nothing pairable
    assert krippendorff_alpha([[3, 3], [3, 3, 3]], "ordinal") == 1.0  # D_o = D_e = 0: defined as 1
    assert krippendorff_alpha([[1, 2], [2, 1]], "nominal") < 0  # systematic disagreement


def test_pair_report_alpha_is_nominal_alpha_over_labels():
    answers = {
        1: {"a": "A", "b": "A", "c": "B"},
        2: {"a": "tie", "b": "both_bad"},
        3: {"a": "B", "b": "B", "c": "B"},
        4: {"b": "A", "c": "A"},
        5: {"a": "A"},  # one submission: ignored everywhere
    }
    report = compute_agreement("pair", pair_rows(answers))
    units = [list(by_a.values()) for rid, by_a in answers.items() if rid != 5]
    assert report.pair.krippendorff_alpha == pytest.approx(brute_force_alpha(units, "nominal"))
    assert (report.records_submitted, report.records_compared, report.submissions_compared) == (5, 4, 10)
    assert report.annotators == ("a", "b", "c")
    assert dict(report.pair.label_counts) == {"A": 4, "B": 4, "tie": 1, "both_bad": 1}


def test_rank_report_alpha_is_ordinal_alpha_over_record_candidates():
    answers = {
        10: {"x": (1, 2, 3), "y": (1, 3, 2), "z": (2, 1, 3)},
        11: {"x": (1, 1, 2), "y": (2, 1, 1)},
    }
    units = [[r[i] for r in by_a.values()] for by_a in answers.values() for i in range(3)]
    report = compute_agreement("rank", ranking_answers(answers))
    assert report.rank.krippendorff_alpha == pytest.approx(brute_force_alpha(units, "ordinal"))


# -- Kendall's tau-b and W --------------------------------------------------------------------


def test_kendall_tau_b_matches_scipy_on_random_rankings_with_ties():
    rng = random.Random(11)
    compared = 0
    for _trial in range(300):
        n = rng.randint(2, 8)
        x, y = random_dense_ranks(rng, n), random_dense_ranks(rng, n)
        ours = kendall_tau_b(x, y)
        reference = kendalltau(x, y).statistic  # scipy's default variant is tau-b
        if np.isnan(reference):
            assert ours is None
        else:
            assert ours == pytest.approx(reference)
            compared += 1
    assert compared > 200


def reference_kendall_w(rankings) -> float:
    """W = 12 S / (m^2 (n^3 - n) - m sum T) with mid-ranks from scipy."""
    matrix = np.array([rankdata(r) for r in rankings])  # rankdata gives mid-ranks
    m, n = matrix.shape
    column_sums = matrix.sum(axis=0)
    s = ((column_sums - column_sums.mean()) ** 2).sum()
    ties = sum(((counts**3) - counts).sum() for counts in (np.unique(r, return_counts=True)[1] for r in rankings))
    return 12 * s / (m * m * (n**3 - n) - m * ties)


def test_kendall_w_matches_the_formula_with_ties():
    rng = random.Random(5)
    for _trial in range(100):
        n, m = rng.randint(2, 7), rng.randint(2, 5)
        rankings = [random_dense_ranks(rng, n) for _ in range(m)]
        if all(len(set(r)) == 1 for r in rankings):
            assert kendall_w(rankings) is None
            continue
        assert kendall_w(rankings) == pytest.approx(reference_kendall_w(rankings))


def test_kendall_w_matches_mean_spearman_without_ties():
    rng = random.Random(9)
    for _trial in range(50):
        n, m = rng.randint(3, 8), rng.randint(2, 6)
        rankings = [tuple(rng.sample(range(1, n + 1), n)) for _ in range(m)]
        rhos = [spearmanr(a, b).statistic for a, b in itertools.combinations(rankings, 2)]
        expected = (np.mean(rhos) * (m - 1) + 1) / m
        assert kendall_w(rankings) == pytest.approx(expected)


def test_kendall_w_known_extremes():
    assert kendall_w([(1, 2, 3), (1, 2, 3), (1, 2, 3)]) == pytest.approx(1.0)
    assert kendall_w([(1, 1, 2), (1, 1, 2)]) == pytest.approx(1.0)  # identical ties: still perfect
    assert kendall_w([(1, 2, 3, 4), (4, 3, 2, 1)]) == pytest.approx(0.0)
    assert kendall_w([(1, 1, 1), (1, 1, 1)]) is None


def test_rank_report_means_and_skipped_tau_pairs():
    answers = {
        1: {"x": (1, 2, 3), "y": (1, 2, 3), "z": (1, 1, 1)},  # z ties all: 2 pairs skipped
        2: {"x": (1, 2, 3), "y": (3, 2, 1)},
        3: {"x": (1, 1, 1), "y": (1, 1, 1)},  # W undefined, tau-b pair skipped
    }
    report = compute_agreement("rank", ranking_answers(answers))
    rank = report.rank
    w1 = reference_kendall_w(list(answers[1].values()))
    assert dict(rank.kendall_w) == pytest.approx({1: w1, 2: 0.0})
    assert rank.mean_kendall_w == pytest.approx((w1 + 0.0) / 2)
    assert rank.w_undefined_records == 1
    # Record 1: tau(x, y) = 1 (pairs with z skipped); record 2: tau = -1; record 3: none.
    assert rank.mean_kendall_tau_b == pytest.approx(0.0)
    assert (rank.tau_b_pairs, rank.tau_b_skipped_pairs) == (2, 3)
    assert any("tau-b is undefined" in note for note in report.notes)
    assert [d.record_id for d in report.disputed] == [2, 1]


# -- percent agreement, majority, disputed records ------------------------------------------


def test_percent_agreement_by_hand():
    assert percent_agreement(["A", "A", "B"]) == pytest.approx(1 / 3)  # 1 of 3 pairs agree
    assert percent_agreement(["A", "A", "A", "B"]) == pytest.approx(3 / 6)
    answers = {1: {"a": "A", "b": "A", "c": "B"}, 2: {"a": "tie", "b": "tie"}}
    assert compute_agreement("pair", pair_rows(answers)).pair.percent_agreement == pytest.approx((1 / 3 + 1) / 2)


def test_pair_majority_is_leave_one_out_and_skips_records_without_strict_plurality():
    answers = {
        1: {"ann": "A", "bob": "A", "cat": "B"},  # ann vs {A, B}: no plurality; bob likewise; cat vs A: disagrees
        2: {"ann": "A", "bob": "A", "cat": "A"},  # everyone agrees with the other two
        3: {"ann": "B", "bob": "tie"},  # each compared with the single other: disagree
    }
    by = {a.annotator: a for a in compute_agreement("pair", pair_rows(answers)).by_annotator}
    assert (by["ann"].answers, by["ann"].compared, by["ann"].skipped) == (3, 2, 1)
    assert by["ann"].agreement == pytest.approx(1 / 2)
    assert by["bob"].agreement == pytest.approx(1 / 2)
    assert (by["cat"].answers, by["cat"].compared) == (2, 2)
    assert by["cat"].agreement == pytest.approx(1 / 2)


def test_rank_majority_is_tau_b_with_borda_consensus_of_the_others():
    answers = {
        1: {"alice": (1, 2, 3), "bob": (1, 2, 3), "carol": (1, 3, 2)},
        2: {"alice": (1, 2, 3), "bob": (3, 2, 1)},
    }
    by = {a.annotator: a for a in compute_agreement("rank", ranking_answers(answers)).by_annotator}
    # Record 1, alice: the others' summed ranks are bob + carol = (2, 5, 5), tied for last.
    alice_1 = kendalltau((1, 2, 3), (2, 5, 5)).statistic
    carol_1 = kendalltau((1, 3, 2), (2, 4, 6)).statistic  # alice + bob
    assert by["alice"].agreement == pytest.approx((alice_1 - 1) / 2)
    assert by["carol"].agreement == pytest.approx(carol_1)
    assert (by["bob"].answers, by["bob"].compared) == (2, 2)


def test_disputed_records_most_disagreement_first_and_limited():
    answers = {
        1: {"a": "A", "b": "A", "c": "A"},  # 0: never listed
        2: {"a": "A", "b": "B"},  # 1
        3: {"a": "A", "b": "A", "c": "B"},  # 2/3
        4: {"a": "A", "b": "B", "c": "tie"},  # 1
        5: {"a": "B", "b": "B", "c": "both_bad"},  # 2/3
    }
    report = compute_agreement("pair", pair_rows(answers))
    assert [(d.record_id, d.annotators) for d in report.disputed] == [(2, 2), (4, 3), (3, 3), (5, 3)]
    assert report.disputed[0].disagreement == pytest.approx(1.0)
    assert report.disputed[2].disagreement == pytest.approx(2 / 3)
    assert report.disputed[3].answers == (("a", "B"), ("b", "B"), ("c", "both_bad"))
    limited = compute_agreement("pair", pair_rows(answers), top_disputed=2)
    assert [d.record_id for d in limited.disputed] == [2, 4]


# -- thin data --------------------------------------------------------------------------------


def test_no_overlapping_records_is_reported_not_raised():
    report = compute_agreement("rank", ranking_answers({1: {"a": (1, 2)}, 2: {"b": (2, 1)}}))
    assert (report.records_submitted, report.records_compared) == (2, 0)
    assert report.rank is None and report.pair is None and report.disputed == ()
    assert "No record has two or more submissions" in report.notes[0]
    assert compute_agreement("pair", []).records_compared == 0


def test_all_identical_answers_give_alpha_one_with_a_note():
    report = compute_agreement("pair", pair_rows({1: {"a": "B", "b": "B"}, 2: {"a": "B", "c": "B"}}))
    assert report.pair.krippendorff_alpha == 1.0 and report.pair.percent_agreement == 1.0
    assert any("reported as 1.0" in note for note in report.notes)
    assert report.disputed == ()


def test_malformed_pair_answer_names_the_record():
    with pytest.raises(ValueError, match="record 7"):
        compute_agreement("pair", [(7, "a", (1, 2, 3), False), (7, "b", (1, 2), False)])


# -- through a real store, and the rich view ---------------------------------------------------


def test_end_to_end_through_the_store(tmp_path):
    path = tmp_path / "d.jsonl"
    rows = [{"id": f"r{i}", "prompt": "q", "responses": ["a", "b", "c"]} for i in range(1, 4)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    s = open_store(tmp_path / "s.duckdb")
    try:
        s.import_file(path, dataset="d", annotators_per_record=3)
        r1, r2, r3 = s.get_records(s.record_ids("d"))
        given = {
            r1.id: {"ann": (1, 2, 3), "bob": (1, 2, 3), "cat": (2, 1, 3)},
            r2.id: {"ann": (1, 1, 2), "bob": (2, 1, 1)},
            r3.id: {"ann": (3, 2, 1)},
        }
        for rid, by_a in given.items():
            for annotator, ranks in by_a.items():
                s.save_annotation(AnnotationInput(rid, annotator, "submitted", ranks))
        assert s.get_dataset("d").task == "rank"
        report = compute_agreement("rank", s.submitted_rankings("d"))
    finally:
        s.close()
    assert (report.records_submitted, report.records_compared, report.submissions_compared) == (3, 2, 5)
    assert report.annotators == ("ann", "bob", "cat")
    w1 = reference_kendall_w(list(given[r1.id].values()))
    w2 = reference_kendall_w(list(given[r2.id].values()))
    assert dict(report.rank.kendall_w) == pytest.approx({r1.id: w1, r2.id: w2})
    tau1 = np.mean([kendalltau(a, b).statistic for a, b in itertools.combinations(given[r1.id].values(), 2)])
    tau2 = kendalltau((1, 1, 2), (2, 1, 1)).statistic
    assert report.rank.mean_kendall_tau_b == pytest.approx((tau1 + tau2) / 2)
    assert (w1, w2) == pytest.approx((7 / 9, 1 / 4))
    assert [(d.record_id, d.annotators) for d in report.disputed] == [(r2.id, 2), (r1.id, 3)]


def render(report) -> str:
    console = Console(record=True, width=160, color_system=None)
    for renderable in agreement_renderables(report):
        console.print(renderable)
    return console.export_text()


def test_view_prints_annotator_names_literally():
    sneaky = "[bold red]eve[/bold red]"
    answers = {1: {sneaky: "A", "bob": "B"}, 2: {sneaky: "tie", "bob": "tie"}}
    text = render(compute_agreement("pair", pair_rows(answers)))
    assert text.count(sneaky) == 3  # kappa note, per-annotator table, disputed record
    for figure in ("percent agreement", "Cohen's kappa", "Krippendorff's alpha (nominal)", "Most disputed"):
        assert figure in text
    rank_text = render(compute_agreement("rank", ranking_answers({1: {"x": (1, 2), "y": (2, 1)}})))
    assert "Kendall's W" in rank_text and "tau-b" in rank_text and "2,1" in rank_text


def test_view_handles_a_report_without_overlap():
    text = render(compute_agreement("pair", pair_rows({1: {"a": "A"}})))
    assert "No record has two or more submissions" in text


def test_interval_alpha_matches_krippendorffs_worked_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the same 4 x 12 table: interval 0.849.
    assert krippendorff_alpha(KRIPPENDORFF_UNITS, "interval") == pytest.approx(0.849, abs=5e-4)


def test_rating_agreement_per_axis():
    from store.stats.agreement import rating_agreement

    # Two records x two candidates, three annotators rating "quality" 1-5 and "style" (only ann and bob).
    ratings = [
        (1, "ann", [(0, "quality", 5), (1, "quality", 2), (0, "style", 3)]),
        (1, "bob", [(0, "quality", 5), (1, "quality", 2), (0, "style", 3)]),
        (1, "cat", [(0, "quality", 4), (1, "quality", 2)]),
        (2, "ann", [(0, "quality", 1), (1, "quality", 4)]),
        (2, "bob", [(0, "quality", 1), (1, "quality", 4)]),
        (2, "cat", [(0, "quality", 1), (1, "quality", 5)]),
    ]
    quality, style = rating_agreement(ratings)
    assert (quality.axis, quality.units, style.axis, style.units) == ("quality", 4, "style", 1)
    units = [[5, 5, 4], [2, 2, 2], [1, 1, 1], [4, 4, 5]]
    assert quality.krippendorff_interval == pytest.approx(krippendorff_alpha(units, "interval"))
    assert quality.krippendorff_interval == pytest.approx(brute_force_alpha(units, "interval"))
    by = {a.annotator: a for a in quality.by_annotator}
    # ann: others (bob, cat) have a strict plurality only where they agree: units 2 and 3 -> agreed both.
    assert (by["ann"].compared, by["ann"].agreement) == (2, 1.0)
    # cat: ann and bob always agree, so 4 compared; cat matches them on units 2 and 3 only.
    assert (by["cat"].compared, by["cat"].agreement) == (4, 0.5)
    assert style.krippendorff_interval == 1.0  # one unit, the same value: defined as perfect here
