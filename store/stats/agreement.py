"""Inter-annotator agreement on the records that two or more annotators submitted.

Pure Python and the standard library: no scipy, numpy, textual or torch at runtime.
The statistics follow their textbook definitions:

- percent agreement: per record, the fraction of annotator pairs that gave the same
  label, averaged over records;
- Cohen's kappa: (p_o - p_e) / (1 - p_e) for exactly two annotators;
- Krippendorff's alpha: 1 - D_o / D_e from the coincidence matrix (Krippendorff 2011,
  "Computing Krippendorff's Alpha-Reliability"), nominal or ordinal metric;
- Kendall's W with the correction for ties, and Kendall's tau-b (the variant that
  scipy.stats.kendalltau computes by default).

Ranks are as the store keeps them: `ranks[i]` is the rank of canonical candidate i,
1 = best, equal numbers = tie (dense: 1, 1, 2). W and tau-b use the mid-ranks of those
values, so (1, 1, 2) counts as (1.5, 1.5, 3).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

PAIR_LABELS = ("A", "B", "tie", "both_bad")
"""Pair answers: 'A' candidate 0 better, 'B' candidate 1 better, 'tie', 'both_bad'."""

DEFAULT_DISPUTED = 10

Submission = tuple[int, str, tuple[int, ...], bool]
"""(record_id, annotator, ranks by canonical candidate, both_bad), as from
`PreferenceStore.submitted_rankings`."""

Compared = dict[int, dict[str, tuple[tuple[int, ...], bool]]]
"""record_id -> annotator -> (ranks, both_bad), for records with two or more submissions."""


# -- report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AnnotatorAgreement:
    """How often one annotator agrees with the others on the records they share."""

    annotator: str
    answers: int
    """Their submissions on records with two or more submissions."""
    compared: int
    """Answers that had something to compare with (the others' strict plurality label,
    or a defined tau-b with the others' consensus)."""
    skipped: int
    """answers - compared: the others had no strict plurality (pairs), or tau-b was
    undefined because a ranking tied every candidate (rankings)."""
    agreement: float | None
    """Pairs: fraction of compared answers equal to the others' plurality label.
    Rankings: mean Kendall tau-b between their ranking and the Borda consensus of the
    others (-1..1). None when nothing was compared."""


@dataclass(frozen=True)
class DisputedRecord:
    """A record on which the annotators disagree."""

    record_id: int
    annotators: int
    """Number of annotators who submitted it."""
    disagreement: float
    """Pairs: 1 - percent agreement on the record. Rankings: 1 - Kendall's W."""
    answers: tuple[tuple[str, str], ...]
    """(annotator, answer) sorted by annotator; the answer is the pair label or the
    ranks by canonical candidate written as '1,2,2'."""


@dataclass(frozen=True)
class PairAgreement:
    """Agreement figures of a pair task (labels A, B, tie, both_bad)."""

    percent_agreement: float | None
    """Mean over compared records of the fraction of annotator pairs giving the same label."""
    cohen_kappa: float | None
    """Cohen's kappa, only when exactly two annotators answered the compared records."""
    cohen_kappa_note: str
    """Which two annotators and how many records, or why kappa is None."""
    krippendorff_alpha: float | None
    """Krippendorff's alpha, nominal metric, units = records, values = labels."""
    label_counts: tuple[tuple[str, int], ...]
    """How many compared answers carry each label, in PAIR_LABELS order."""


@dataclass(frozen=True)
class RankAgreement:
    """Agreement figures of a ranking task."""

    mean_kendall_w: float | None
    """Mean of Kendall's W (tie-corrected) over records where it is defined."""
    kendall_w: tuple[tuple[int, float], ...]
    """(record_id, W) for each compared record where W is defined."""
    w_undefined_records: int
    """Compared records where W is 0/0 (every annotator tied every candidate)."""
    mean_kendall_tau_b: float | None
    """Per record, the mean tau-b over its annotator pairs; then the mean over records."""
    tau_b_pairs: int
    """Annotator pairs (over all records) whose tau-b entered the mean."""
    tau_b_skipped_pairs: int
    """Annotator pairs skipped because one of the two tied every candidate (tau-b 0/0)."""
    krippendorff_alpha: float | None
    """Krippendorff's alpha, ordinal metric, units = (record, candidate), values = ranks."""


@dataclass(frozen=True)
class AgreementReport:
    """Everything `rlhf-tui stats --agreement` shows. Only records with two or more
    submissions ("compared records") enter any figure."""

    task: str
    """'pair' or 'rank'."""
    records_submitted: int
    """Records with at least one submission."""
    records_compared: int
    """Records with two or more submissions."""
    submissions_compared: int
    """Submissions on the compared records."""
    annotators: tuple[str, ...]
    """Annotators with a submission on a compared record, sorted."""
    pair: PairAgreement | None
    """Set for pair tasks with compared records."""
    rank: RankAgreement | None
    """Set for rank tasks with compared records."""
    by_annotator: tuple[AnnotatorAgreement, ...]
    """Agreement with the majority (leave-one-out), sorted by annotator."""
    disputed: tuple[DisputedRecord, ...]
    """The most disputed records, most disagreement first (ties: lower record_id first).
    Records with no disagreement are never listed."""
    notes: tuple[str, ...]
    """Plain-language caveats: no overlap, skipped pairs, alpha defined as 1.0, ..."""
    adjudicated: tuple[ReferenceAgreement, ...] = ()
    """Each annotator's agreement with the reviewers' final answers."""
    gold: tuple[ReferenceAgreement, ...] = ()
    """Each annotator's accuracy on the gold records."""


@dataclass(frozen=True)
class ReferenceAgreement:
    """How one annotator's answers compare with reference answers (adjudicated or gold).

    Pairs: the fraction of records with the reference's label. Rankings: per record the
    fraction of the reference's strictly ordered candidate pairs the annotator put in the
    same order (pairwise accuracy), then the mean over records."""

    annotator: str
    compared: int
    """Records with both this annotator's answer and a reference answer."""
    agreement: float | None


# -- statistics on plain values ---------------------------------------------------------


def pair_label(ranks: Sequence[int], both_bad: bool) -> str:
    """The label of a pair answer: (1, 2) 'A', (2, 1) 'B', (1, 1) 'tie' or 'both_bad'."""
    ranks = tuple(ranks)
    if ranks == (1, 2):
        return "A"
    if ranks == (2, 1):
        return "B"
    if ranks == (1, 1):
        return "both_bad" if both_bad else "tie"
    raise ValueError(f"not a pair answer: ranks {list(ranks)}")


def mid_ranks(ranks: Sequence[float]) -> tuple[float, ...]:
    """Ranks where tied items share the mean of the positions they occupy:
    (1, 1, 2) -> (1.5, 1.5, 3.0). Lower input = better."""
    counts = Counter(ranks)
    below = 0
    position = {}
    for value in sorted(counts):
        position[value] = below + (counts[value] + 1) / 2
        below += counts[value]
    return tuple(position[r] for r in ranks)


def percent_agreement(labels: Sequence[Hashable]) -> float:
    """Fraction of the pairs of answers on one unit that are equal (needs two or more)."""
    m = len(labels)
    if m < 2:
        raise ValueError("percent agreement needs two or more answers")
    agreeing = sum(c * (c - 1) // 2 for c in Counter(labels).values())
    return agreeing / (m * (m - 1) // 2)


def cohen_kappa(pairs: Sequence[tuple[Hashable, Hashable]]) -> float | None:
    """Cohen's kappa of (label by rater 1, label by rater 2) pairs.

    None when chance agreement p_e is 1 (both raters used one and the same label for
    every item): kappa is 0/0 there. None for no pairs."""
    n = len(pairs)
    if n == 0:
        return None
    observed = sum(a == b for a, b in pairs) / n
    first = Counter(a for a, _ in pairs)
    second = Counter(b for _, b in pairs)
    expected = sum(first[c] * second[c] for c in first) / (n * n)
    if math.isclose(expected, 1.0):
        return None
    return (observed - expected) / (1 - expected)


def krippendorff_alpha(units: Iterable[Iterable[Hashable | None]], level: str = "nominal") -> float | None:
    """Krippendorff's alpha from the coincidence matrix (Krippendorff 2011).

    `units` holds, per unit, the values the coders gave it; None (or leaving a coder
    out) is a missing value. Units with fewer than two values are not pairable and are
    ignored. `level` is 'nominal' (delta = 0 if equal else 1), 'ordinal' (delta^2 =
    (sum of n_g for g from c to k - (n_c + n_k) / 2)^2, values sorted by <) or 'interval'
    (delta^2 = (c - k)^2, numeric values).

    Returns None without any pairable value. When every pairable value is the same,
    expected disagreement D_e is 0 and so is observed disagreement D_o; alpha is then
    defined here as 1.0 (perfect agreement), although the textbook ratio is 0/0.
    """
    if level not in ("nominal", "ordinal", "interval"):
        raise ValueError(f"level must be 'nominal', 'ordinal' or 'interval', not {level!r}")
    coincidence: dict[tuple, float] = defaultdict(float)
    marginals: Counter = Counter()
    for unit in units:
        values = [v for v in unit if v is not None]
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        marginals.update(counts)
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                ordered_pairs = n_c * (n_k - 1) if c == k else n_c * n_k
                if ordered_pairs:
                    coincidence[c, k] += ordered_pairs / (m - 1)
    n = sum(marginals.values())
    if n == 0:
        return None
    delta2: Callable[[Hashable, Hashable], float]
    if level == "ordinal":
        delta2 = _ordinal_delta2(marginals)
    elif level == "interval":
        delta2 = lambda c, k: (float(c) - float(k)) ** 2  # type: ignore[arg-type]  # noqa: E731
    else:
        delta2 = lambda c, k: 0.0 if c == k else 1.0  # noqa: E731
    observed = sum(o * delta2(c, k) for (c, k), o in coincidence.items())
    expected = sum(marginals[c] * marginals[k] * delta2(c, k) for c in marginals for k in marginals) / (n - 1)
    if expected == 0:
        return 1.0
    return 1 - observed / expected


def _ordinal_delta2(marginals: Counter) -> Callable[[Hashable, Hashable], float]:
    ordered = sorted(marginals)
    index = {v: i for i, v in enumerate(ordered)}
    cumulative = list(itertools.accumulate((marginals[v] for v in ordered), initial=0))

    def delta2(c: Hashable, k: Hashable) -> float:
        i, j = sorted((index[c], index[k]))
        between = cumulative[j + 1] - cumulative[i]
        return (between - (marginals[c] + marginals[k]) / 2) ** 2

    return delta2


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b of two rankings of the same items (lower = better or any
    consistent order). None when either ranking ties every item (0/0)."""
    if len(x) != len(y):
        raise ValueError("both rankings must rank the same items")
    concordant = discordant = tied_x = tied_y = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        dx = (x[i] > x[j]) - (x[i] < x[j])
        dy = (y[i] > y[j]) - (y[i] < y[j])
        if dx == 0:
            tied_x += 1
        if dy == 0:
            tied_y += 1
        if dx * dy > 0:
            concordant += 1
        elif dx * dy < 0:
            discordant += 1
    total = len(x) * (len(x) - 1) // 2
    denominator = (total - tied_x) * (total - tied_y)
    if denominator == 0:
        return None
    return (concordant - discordant) / math.sqrt(denominator)


def kendall_w(rankings: Sequence[Sequence[float]]) -> float | None:
    """Kendall's coefficient of concordance W of m rankings of the same n items,
    corrected for ties: W = 12 S / (m^2 (n^3 - n) - m sum T), with S the sum of squared
    deviations of the items' rank sums (mid-ranks) and T = sum(t^3 - t) over each
    ranking's tie groups. None with fewer than two items or when every ranking ties
    every item (0/0)."""
    m = len(rankings)
    if m == 0:
        return None
    n = len(rankings[0])
    if any(len(r) != n for r in rankings):
        raise ValueError("every ranking must rank the same items")
    if n < 2:
        return None
    sums = [0.0] * n
    tie_term = 0
    for ranking in rankings:
        for i, r in enumerate(mid_ranks(ranking)):
            sums[i] += r
        tie_term += sum(t**3 - t for t in Counter(ranking).values())
    mean = sum(sums) / n
    s = sum((r - mean) ** 2 for r in sums)
    denominator = m * m * (n**3 - n) - m * tie_term
    if denominator == 0:
        return None
    return 12 * s / denominator


def pairwise_accuracy(ranks: Sequence[int], reference: Sequence[int]) -> float | None:
    """The fraction of the reference's strictly ordered pairs that `ranks` orders the same
    way (a tie in `ranks` counts as wrong); None when the reference ties everything."""
    pairs = [(i, j) for i in range(len(reference)) for j in range(len(reference)) if reference[i] < reference[j]]
    if not pairs:
        return None
    return sum(1 for i, j in pairs if ranks[i] < ranks[j]) / len(pairs)


def agreement_with_reference(
    task: str,
    rankings: Iterable[Submission],
    reference: Mapping[int, tuple[Sequence[int], bool]],
) -> tuple[ReferenceAgreement, ...]:
    """Each annotator's agreement with `reference` (record id → (ranks, both_bad)), sorted by annotator."""
    scores: dict[str, list[float]] = defaultdict(list)
    for record_id, annotator, ranks, both_bad in rankings:
        if record_id not in reference:
            continue
        ref_ranks, ref_bad = reference[record_id]
        if task == "pair":
            scores[annotator].append(float(pair_label(ranks, both_bad) == pair_label(ref_ranks, ref_bad)))
        else:
            score = pairwise_accuracy(ranks, ref_ranks)
            if score is not None:
                scores[annotator].append(score)
    return tuple(ReferenceAgreement(a, len(v), _mean(v)) for a, v in sorted(scores.items()))


@dataclass(frozen=True)
class AxisAgreement:
    """Agreement on one rating axis; units are (record, candidate), values the ratings."""

    axis: str
    units: int
    """(record, candidate) pairs rated by two or more annotators."""
    krippendorff_interval: float | None
    krippendorff_ordinal: float | None
    by_annotator: tuple[AnnotatorAgreement, ...]
    """Leave-one-out agreement with the strict majority of the others' ratings."""


Rating = tuple[int, str, Sequence[tuple[int, str, float]]]  # (record_id, annotator, ratings)


def rating_agreement(ratings: Iterable[Rating]) -> tuple[AxisAgreement, ...]:
    """Per axis: Krippendorff's alpha (interval and ordinal) and each annotator's agreement
    with the majority of the others, from each submitted answer's ratings."""
    by_axis: dict[str, dict[tuple[int, int], dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for record_id, annotator, rated in ratings:
        for index, axis, value in rated:
            by_axis[axis][(record_id, index)][annotator] = value
    out = []
    for axis in sorted(by_axis):
        units = [u for u in by_axis[axis].values() if len(u) >= 2]
        values = [list(u.values()) for u in units]
        by_annotator = tuple(_agreement_with_majority([{a: str(v) for a, v in u.items()} for u in units]))
        out.append(
            AxisAgreement(
                axis,
                len(units),
                krippendorff_alpha(values, "interval"),
                krippendorff_alpha(values, "ordinal"),
                by_annotator,
            )
        )
    return tuple(out)


# -- the report ---------------------------------------------------------------------------


def compute_agreement(
    task: str,
    rankings: Iterable[Submission],
    top_disputed: int = DEFAULT_DISPUTED,
    reviews: Iterable[tuple[int, tuple[int, ...], bool, bool]] = (),
) -> AgreementReport:
    """Agreement figures of a dataset from its submitted answers.

    `task` is the dataset's task ('pair' or 'rank'); `rankings` is what
    `store.submitted_rankings(dataset)` returns. Only records with two or more
    submissions count. Nothing here raises on thin data: missing figures are None and
    `notes` says why.
    """
    if task not in ("pair", "rank"):
        raise ValueError(f"task must be 'pair' or 'rank', not {task!r}")
    rankings = list(rankings)
    reviewed = list(reviews)
    adjudicated = agreement_with_reference(task, rankings, {r: (k, b) for r, k, b, _ in reviewed})
    gold = agreement_with_reference(task, rankings, {r: (k, b) for r, k, b, g in reviewed if g})
    by_record: dict[int, dict[str, tuple[tuple[int, ...], bool]]] = defaultdict(dict)
    for record_id, annotator, ranks, both_bad in rankings:
        by_record[record_id][annotator] = (tuple(ranks), bool(both_bad))
    compared = {rid: answers for rid, answers in sorted(by_record.items()) if len(answers) >= 2}
    annotators = tuple(sorted({a for answers in compared.values() for a in answers}))
    notes: list[str] = []
    if not compared:
        notes.append("No record has two or more submissions, so there is no agreement to measure.")
        return AgreementReport(task, len(by_record), 0, 0, (), None, None, (), (), tuple(notes), adjudicated, gold)
    submissions = sum(len(a) for a in compared.values())
    if task == "pair":
        pair, by_annotator, disputed = _pair_agreement(compared, annotators, notes)
        rank = None
    else:
        rank, by_annotator, disputed = _rank_agreement(compared, notes)
        pair = None
    disputed = [d for d in disputed if d.disagreement > 1e-12]
    disputed.sort(key=lambda d: (-d.disagreement, d.record_id))
    return AgreementReport(
        task=task,
        records_submitted=len(by_record),
        records_compared=len(compared),
        submissions_compared=submissions,
        annotators=annotators,
        pair=pair,
        rank=rank,
        by_annotator=tuple(by_annotator),
        disputed=tuple(disputed[: max(top_disputed, 0)]),
        notes=tuple(notes),
        adjudicated=adjudicated,
        gold=gold,
    )


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _alpha_note(units: list[list], notes: list[str]) -> None:
    values = {v for unit in units for v in unit}
    if len(values) == 1:
        notes.append(
            "Every answer is the same, so chance disagreement is zero; Krippendorff's alpha "
            "is 0/0 there and is reported as 1.0."
        )


def _pair_agreement(
    compared: Compared, annotators: tuple[str, ...], notes: list[str]
) -> tuple[PairAgreement, list[AnnotatorAgreement], list[DisputedRecord]]:
    labels = {
        rid: {a: _checked_pair_label(rid, a, ranks, bad) for a, (ranks, bad) in answers.items()}
        for rid, answers in compared.items()
    }
    per_record = {rid: percent_agreement(list(by_who.values())) for rid, by_who in labels.items()}
    units = [list(by_who.values()) for by_who in labels.values()]
    _alpha_note(units, notes)
    alpha = krippendorff_alpha(units, "nominal")

    if len(annotators) == 2:
        first, second = annotators
        pairs = [(by_who[first], by_who[second]) for by_who in labels.values() if first in by_who and second in by_who]
        kappa = cohen_kappa(pairs)
        if kappa is None:
            kappa_note = (
                f"both annotators gave the same single label on all {len(pairs)} records; "
                "chance agreement is 1 and kappa is undefined"
            )
        else:
            kappa_note = f"{first} and {second} on {len(pairs)} records"
    else:
        kappa = None
        kappa_note = (
            f"{len(annotators)} annotators answered the compared records; Cohen's kappa needs "
            "exactly two (use Krippendorff's alpha)"
        )

    counts = Counter(label for by_who in labels.values() for label in by_who.values())
    pair = PairAgreement(
        percent_agreement=_mean(list(per_record.values())),
        cohen_kappa=kappa,
        cohen_kappa_note=kappa_note,
        krippendorff_alpha=alpha,
        label_counts=tuple((label, counts[label]) for label in PAIR_LABELS),
    )

    by_annotator = _agreement_with_majority(list(labels.values()))
    skipped = sum(b.skipped for b in by_annotator)
    if skipped:
        notes.append(
            f"{skipped} answers were not compared with the majority: the other annotators "
            "on the record had no single most common label."
        )
    disputed = [
        DisputedRecord(rid, len(labels[rid]), 1 - per_record[rid], tuple(sorted(labels[rid].items()))) for rid in labels
    ]
    return pair, by_annotator, disputed


def _agreement_with_majority(units: Sequence[Mapping[str, str]]) -> list[AnnotatorAgreement]:
    """Leave-one-out: how often each annotator's label equals the strict plurality of the other
    annotators' labels on the same unit (units without such a plurality are skipped), by annotator."""
    tallies: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # answers, compared, agreed
    for unit in units:
        for annotator, label in unit.items():
            tally = tallies[annotator]
            tally[0] += 1
            majority = _strict_plurality(other for a, other in unit.items() if a != annotator)
            if majority is not None:
                tally[1] += 1
                tally[2] += label == majority
    return [
        AnnotatorAgreement(a, t[0], t[1], t[0] - t[1], t[2] / t[1] if t[1] else None)
        for a, t in sorted(tallies.items())
    ]


def _checked_pair_label(record_id: int, annotator: str, ranks: Sequence[int], both_bad: bool) -> str:
    try:
        return pair_label(ranks, both_bad)
    except ValueError as err:
        raise ValueError(f"record {record_id}, annotator {annotator!r}: {err}") from None


def _strict_plurality(labels: Iterable[str]) -> str | None:
    ranked = Counter(labels).most_common()
    if not ranked or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


def _rank_agreement(
    compared: Compared, notes: list[str]
) -> tuple[RankAgreement, list[AnnotatorAgreement], list[DisputedRecord]]:
    w_by_record: dict[int, float] = {}
    w_undefined = 0
    record_tau_means: list[float] = []
    tau_pairs = tau_skipped = 0
    alpha_units: list[list[int]] = []
    tallies: dict[str, list] = defaultdict(lambda: [0, []])  # answers, taus
    disputed = []
    for rid, answers in compared.items():
        ranked = {a: ranks for a, (ranks, _) in sorted(answers.items())}
        lengths = {len(r) for r in ranked.values()}
        if len(lengths) != 1:
            raise ValueError(f"record {rid}: the annotators ranked different numbers of candidates")
        n = lengths.pop()
        w = kendall_w(list(ranked.values()))
        if w is None:
            w_undefined += 1
        else:
            w_by_record[rid] = w
            disputed.append(
                DisputedRecord(rid, len(ranked), 1 - w, tuple((a, ",".join(map(str, r))) for a, r in ranked.items()))
            )
        taus = []
        for x, y in itertools.combinations(ranked.values(), 2):
            tau = kendall_tau_b(x, y)
            if tau is None:
                tau_skipped += 1
            else:
                taus.append(tau)
        tau_pairs += len(taus)
        if taus:
            record_tau_means.append(sum(taus) / len(taus))
        alpha_units.extend([ranked[a][i] for a in ranked] for i in range(n))
        mids = {a: mid_ranks(r) for a, r in ranked.items()}
        for annotator, own in ranked.items():
            # Borda consensus of the others: the lower the summed mid-rank, the better.
            consensus = [sum(mids[o][i] for o in mids if o != annotator) for i in range(n)]
            tallies[annotator][0] += 1
            tau = kendall_tau_b(own, consensus)
            if tau is not None:
                tallies[annotator][1].append(tau)

    _alpha_note(alpha_units, notes)
    rank = RankAgreement(
        mean_kendall_w=_mean(list(w_by_record.values())),
        kendall_w=tuple(w_by_record.items()),
        w_undefined_records=w_undefined,
        mean_kendall_tau_b=_mean(record_tau_means),
        tau_b_pairs=tau_pairs,
        tau_b_skipped_pairs=tau_skipped,
        krippendorff_alpha=krippendorff_alpha(alpha_units, "ordinal"),
    )
    if w_undefined:
        notes.append(
            f"Kendall's W is undefined on {w_undefined} records where every annotator tied "
            "every candidate; they are left out of the mean W and of the disputed list."
        )
    if tau_skipped:
        notes.append(
            f"{tau_skipped} annotator pairs were left out of the mean tau-b: one of the two "
            "tied every candidate, so tau-b is undefined."
        )
    by_annotator = [
        AnnotatorAgreement(a, answers, len(taus), answers - len(taus), _mean(taus))
        for a, (answers, taus) in sorted(tallies.items())
    ]
    skipped = sum(b.skipped for b in by_annotator)
    if skipped:
        notes.append(
            f"{skipped} rankings were not compared with the others' consensus: the ranking "
            "or the consensus tied every candidate."
        )
    return rank, by_annotator, disputed
