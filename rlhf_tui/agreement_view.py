"""Rich tables of an agreement report, shared by `rlhf-tui stats --agreement` and the
app's admin screen. Every string from the data (annotator names, answers, notes) goes in
through `terminal_text.plain`: never read as markup, escape sequences shown visibly."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from rlhf_tui.terminal_text import neutralise, plain
from store.stats.agreement import AgreementReport, AxisAgreement, ReferenceAgreement

PAIR_LABEL_NAMES = {"A": "A better", "B": "B better", "tie": "tie", "both_bad": "both bad"}


def agreement_renderables(
    report: AgreementReport, record_labels: Mapping[int, str] | None = None, title: str = "Agreement"
) -> list[RenderableType]:
    """Summary, per-annotator and disputed-records tables, agreement with the adjudicated
    answers and gold accuracy, then the notes. `record_labels` names records by the id from
    the imported file."""
    out: list[RenderableType] = [_summary_table(report, title)]
    if report.by_annotator:
        out.append(_annotator_table(report))
    for name, rows in (
        ("Agreement with the adjudicated answers", report.adjudicated),
        ("Accuracy on gold records", report.gold),
    ):
        if rows:
            out.append(_reference_table(name, rows, report.task))
    if report.disputed:
        out.append(_disputed_table(report, record_labels or {}))
    elif report.records_compared:
        out.append(Text("No record is disputed: the annotators agree on every compared record."))
    out.extend(plain(f"note: {note}", style="dim") for note in report.notes)
    return out


def _figure(value: float | None, digits: int = 3) -> Text:
    return Text("—" if value is None else f"{value:.{digits}f}", justify="right")


def _percent(value: float | None) -> Text:
    return Text("—" if value is None else f"{value:.1%}", justify="right")


def _summary_table(report: AgreementReport, title: str = "Agreement") -> Table:
    table = Table(title=plain(title), show_header=True)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("about")
    table.add_row(
        Text("records with 2+ submissions"),
        Text(f"{report.records_compared:,}"),
        Text(f"of {report.records_submitted:,} with any submission"),
    )
    table.add_row(Text("submissions compared"), Text(f"{report.submissions_compared:,}"), Text(""))
    table.add_row(Text("annotators involved"), Text(f"{len(report.annotators):,}"), Text(""))
    if report.pair is not None:
        p = report.pair
        table.add_row(
            Text("percent agreement"),
            _percent(p.percent_agreement),
            Text("mean share of agreeing annotator pairs per record"),
        )
        table.add_row(Text("Cohen's kappa"), _figure(p.cohen_kappa), plain(p.cohen_kappa_note))
        table.add_row(
            Text("Krippendorff's alpha (nominal)"), _figure(p.krippendorff_alpha), Text("any number of annotators")
        )
        labels = ", ".join(f"{PAIR_LABEL_NAMES.get(label, label)} {count:,}" for label, count in p.label_counts)
        table.add_row(Text("answers by label"), Text(""), plain(labels))
    if report.rank is not None:
        r = report.rank
        w_about = f"over {len(r.kendall_w):,} records"
        if r.w_undefined_records:
            w_about += f"; undefined on {r.w_undefined_records:,}"
        table.add_row(Text("mean Kendall's W"), _figure(r.mean_kendall_w), Text(w_about))
        tau_about = f"{r.tau_b_pairs:,} annotator pairs"
        if r.tau_b_skipped_pairs:
            tau_about += f"; {r.tau_b_skipped_pairs:,} skipped (all tied)"
        table.add_row(Text("mean Kendall's tau-b"), _figure(r.mean_kendall_tau_b), Text(tau_about))
        table.add_row(
            Text("Krippendorff's alpha (ordinal)"),
            _figure(r.krippendorff_alpha),
            Text("units = record × candidate, values = ranks"),
        )
    return table


def _annotator_table(report: AgreementReport) -> Table:
    pair = report.task == "pair"
    table = Table(title=Text("Agreement with the majority (leave-one-out)"))
    table.add_column("annotator")
    table.add_column("answers", justify="right")
    table.add_column("compared", justify="right")
    table.add_column("agrees with others" if pair else "tau-b with consensus", justify="right")
    for a in report.by_annotator:
        table.add_row(
            plain(a.annotator),
            Text(f"{a.answers:,}"),
            Text(f"{a.compared:,}"),
            _percent(a.agreement) if pair else _figure(a.agreement),
        )
    return table


def axis_renderables(axes: Sequence[AxisAgreement]) -> list[RenderableType]:
    """Per rating axis: Krippendorff's alpha (interval, ordinal) and agreement with the majority."""
    if not axes:
        return [Text("No candidate was rated by two or more annotators, so there is no agreement to measure.")]
    table = Table(title=Text("Agreement per rating axis"))
    for column in ("axis", "units", "alpha (interval)", "alpha (ordinal)"):
        table.add_column(column, justify="left" if column == "axis" else "right")
    for axis in axes:
        table.add_row(
            plain(axis.axis),
            Text(f"{axis.units:,}"),
            _figure(axis.krippendorff_interval),
            _figure(axis.krippendorff_ordinal),
        )
    majority = Table(title=Text("Agreement with the majority per axis (leave-one-out, equal rating)"))
    for column in ("axis", "annotator", "compared", "agreement"):
        majority.add_column(column, justify="right" if column in ("compared", "agreement") else "left")
    for axis in axes:
        for who in axis.by_annotator:
            majority.add_row(plain(axis.axis), plain(who.annotator), Text(f"{who.compared:,}"), _percent(who.agreement))
    return [table, majority]


def _reference_table(title: str, rows: Sequence[ReferenceAgreement], task: str) -> Table:
    table = Table(title=Text(title))
    table.add_column("annotator")
    table.add_column("records", justify="right")
    table.add_column("same label" if task == "pair" else "pairwise accuracy", justify="right")
    for row in rows:
        table.add_row(plain(row.annotator), Text(f"{row.compared:,}"), _percent(row.agreement))
    return table


def _disputed_table(report: AgreementReport, record_labels: Mapping[int, str]) -> Table:
    pair = report.task == "pair"
    # Annotators saw the candidates shuffled: say whose letters and numbers these are.
    caption = (
        "A and B: the candidates in the file's order (each annotator may have seen them the other way round; "
        "`rlhf-tui review` shows what each saw)"
        if pair
        else "candidates numbered in the file's order (each annotator saw them shuffled; "
        "`rlhf-tui review` shows what each saw)"
    )
    table = Table(title=Text("Most disputed records"), caption=Text(caption), caption_justify="left")
    table.add_column("record", justify="right")
    table.add_column("annotators", justify="right")
    table.add_column("disagreement" + (" (1 − agreement)" if pair else " (1 − W)"), justify="right")
    table.add_column("answers" if pair else "ranks by candidate")
    for d in report.disputed:
        answers = Text()
        for i, (annotator, answer) in enumerate(d.answers):
            if i:
                answers.append("; ")
            answers.append(neutralise(annotator), style="bold")
            answers.append(neutralise(f" {PAIR_LABEL_NAMES.get(answer, answer) if pair else answer}"))
        label = record_labels.get(d.record_id, str(d.record_id))
        table.add_row(plain(label, one_line=True), Text(str(d.annotators)), _figure(d.disagreement), answers)
    return table
