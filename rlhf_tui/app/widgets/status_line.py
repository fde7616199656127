"""The always-visible progress line: who you are and on which dataset, your submitted
count, the records left for you, what mode the record is in, the dataset's completion,
your rate per hour and the time on this record (most important first: a narrow terminal
cuts the end)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from rlhf_tui.app.safe_text import neutralise
from store import AnnotatorProgress


def clock_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


@dataclass(frozen=True)
class StatusFacts:
    annotator: str  # as the store records answers (over the service: the name it gave us)
    dataset: str
    progress: AnnotatorProgress | None
    submitted_this_session: int
    session_seconds: float
    record_seconds: float
    note: str = ""  # "amending", "draft restored", "tie: next shares rank 2", …
    service_lost: bool = False  # the store service is gone and is being waited for

    @property
    def rate_per_hour(self) -> float | None:
        if self.submitted_this_session == 0 or self.session_seconds < 1:
            return None
        return self.submitted_this_session * 3600 / self.session_seconds


SERVICE_LOST_NOTICE = "store service lost — reconnecting; your answers are kept"


def status_text(facts: StatusFacts) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    if facts.service_lost:  # first, so a narrow terminal still shows it
        text.append(f"⚠ {SERVICE_LOST_NOTICE}", style="bold reverse red")
        text.append(" · ")
    who, dataset = neutralise(facts.annotator, one_line=True), neutralise(facts.dataset, one_line=True)
    text.append(f" {who} · {dataset} ", style="bold reverse")  # who am I, and where: always first
    text.append(" ")
    progress = facts.progress
    if progress is None:
        text.append("loading progress…", style="dim")
    else:
        text.append(f"✔ {progress.submitted:,} submitted", style="bold")
        if progress.discarded:
            text.append(f" · ✖ {progress.discarded:,}")
        text.append(f" · {progress.remaining_for_annotator:,} left for you")
    if facts.note:
        text.append(f" · {facts.note}", style="bold yellow")
    if progress is not None:
        text.append(
            f" · dataset {progress.dataset_percent:.1f}% "
            f"({progress.dataset_complete_records:,}/{progress.dataset_records:,})"
        )
    rate = facts.rate_per_hour
    text.append(f" · {rate:.0f}/h" if rate is not None else " · –/h")
    text.append(f" · ⏱ {clock_text(facts.record_seconds)}")
    return text


class StatusLine(Static):
    DEFAULT_CSS = """
    StatusLine { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    _shown: Text | None = None

    def show(self, facts: StatusFacts) -> None:
        text = status_text(facts)
        if self._shown is not None and text == self._shown:
            return  # the once-a-second tick often changes nothing: no repaint
        self._shown = text
        self.update(text, layout=False)  # one line, always: repaint it without laying out the screen
