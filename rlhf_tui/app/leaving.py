"""What the annotator is told about answers on their way to the store service: when they
leave at once (which were sent, which are kept on this computer and will be sent) and
when answers kept from an earlier session reach the service. Plain Python, no Textual."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rlhf_tui.terminal_text import neutralise
from store.service.unsent import KeptAnswer, ResendReport

MOST_NAMED = 12  # records named in one line; the rest are counted


def _home_relative(path: Path) -> str:
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def record_list(answers: Sequence[KeptAnswer]) -> str:
    """`r1, r2 (draft) and 3 more`: each record once, as its latest answer left it."""
    latest: dict[tuple[str, str], KeptAnswer] = {}
    for kept in answers:
        latest.pop((kept.dataset, kept.record), None)  # the latest answer decides the place and the label
        latest[(kept.dataset, kept.record)] = kept
    labels = [neutralise(kept.label) for kept in latest.values()]
    named = ", ".join(labels[:MOST_NAMED])
    return named if len(labels) <= MOST_NAMED else f"{named} and {len(labels) - MOST_NAMED} more"


def left_at_once_message(sent: Sequence[KeptAnswer], kept: Sequence[KeptAnswer], folder: Path) -> str:
    """The line printed when the annotator leaves without waiting for the service."""
    parts = ["Quit without waiting for the store service."]
    if sent:
        parts.append(f"Sent and saved: {record_list(sent)}.")
    if kept:
        parts.append(
            f"Not yet confirmed by the service, kept on this computer ({_home_relative(folder)}) and sent "
            f"the next time you open the app with this service: {record_list(kept)}."
        )
    else:
        parts.append("Every answer you gave reached the service.")
    return " ".join(parts)


def resent_notice(report: ResendReport) -> str:
    """The notice shown once answers kept from an earlier session have been sent ("" if none were kept)."""
    parts = []
    if report.sent:
        parts.append(f"Sent the answers kept on this computer from last time: {record_list(report.sent)}.")
    if report.set_aside:
        reasons = "; ".join(
            f"{neutralise(kept.label)}: {neutralise(reason)}" for kept, reason in report.set_aside[:MOST_NAMED]
        )
        where = _home_relative(report.refused_folder) if report.refused_folder else "the refused folder"
        parts.append(f"The service refused {len(report.set_aside)} kept answer(s), moved to {where}: {reasons}.")
    return " ".join(parts)
