"""Rich tables of the reward model as a rater (`store.stats.model_rater`), for `rlhf-tui stats
--agreement`. Names and record ids come from data: all through `terminal_text.plain`."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from rlhf_tui.terminal_text import plain
from store.stats.model_rater import ModelAgreement, ModelDisagreement


def candidate_name(index: int) -> str:
    """Candidates by their letter in import order: 0 → A."""
    return chr(ord("A") + index) if 0 <= index < 26 else str(index + 1)


def model_renderables(report: ModelAgreement, record_labels: Mapping[int, str], task: str) -> list[RenderableType]:
    """Each annotator's agreement with the model, then the blind spots and the second looks."""
    table = Table(title=plain(f"Agreement with the reward model {report.scorer}"))
    table.add_column("annotator")
    table.add_column("records", justify="right")
    table.add_column("same label as the model" if task == "pair" else "pairs the model orders alike", justify="right")
    for row in report.by_annotator:
        shown = "—" if row.agreement is None else f"{row.agreement:.1%}"
        table.add_row(plain(row.annotator), Text(f"{row.compared:,}"), Text(shown, justify="right"))
    out: list[RenderableType] = [table]
    out.append(
        _listed(
            "Blind spots: all annotators chose one best answer, the model another (to train on)",
            report.blind_spots,
            record_labels,
            second_look=False,
        )
    )
    out.append(
        _listed(
            f"Second looks: the model is confident (≥ {report.confidence:.0%}) and one annotator chose otherwise",
            report.second_looks,
            record_labels,
            second_look=True,
        )
    )
    return out


def _listed(
    title: str, rows: tuple[ModelDisagreement, ...], record_labels: Mapping[int, str], second_look: bool
) -> RenderableType:
    if not rows:
        return plain(f"{title}: none.")
    table = Table(title=plain(title))
    table.add_column("record")
    if second_look:
        table.add_column("annotator")
    table.add_column("their best" if second_look else "annotators' best")
    table.add_column("model's best")
    table.add_column("margin", justify="right")
    for d in rows:
        cells = [plain(record_labels.get(d.record_id, str(d.record_id)), one_line=True)]
        if second_look:
            cells.append(plain(d.annotator, one_line=True))
        cells += [Text(candidate_name(d.annotators_best)), Text(candidate_name(d.model_best)), Text(f"{d.margin:.2f}")]
        table.add_row(*cells)
    return table
