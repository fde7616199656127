"""The review screen's status line: what the keys do now (pick an annotator's answer and
accept it, or give one's own ranking or choice) and what the last action did. One line,
always: repainted without laying out the screen."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.widgets import Static

from rlhf_tui.app.review.answers_view import one_line
from rlhf_tui.app.review.decisions import Mode
from rlhf_tui.app.review.walk import ReviewBundle


def status_text(
    *,
    mode: Mode,
    task: str,
    bundle: ReviewBundle | None,
    selected: int | None,
    tie_pending: bool,
    feedback: Text,
    key: Callable[[str], str],
) -> Text:
    """`key(binding_id)`: the key shown for a review binding (after the user's keymap)."""
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    if mode == "own" and task == "rank":
        text.append(" YOUR RANKING ", style="bold reverse cyan")
        n = len(bundle.record.candidates) if bundle else 0
        text.append(
            f" 1–{n}: best first · {key('review.rank.tie')}: the next one ties · "
            f"{key('review.rank.clear')}: clear · {key('review.rank.save')}: save · "
            f"{key('review.cancel_own')}: cancel"
        )
        if tie_pending:
            text.append(" · tie: the next shares the rank", style="bold yellow")
    elif mode == "own":
        text.append(" YOUR CHOICE ", style="bold reverse cyan")
        text.append(
            f" {key('review.pair.a_better')}: A better · {key('review.pair.b_better')}: B better · "
            f"{key('review.pair.tie')}: tie · {key('review.pair.both_bad')}: both bad · "
            f"{key('review.cancel_own')}: cancel"
        )
    elif bundle is not None:
        if selected is None:
            rows = min(9, len(bundle.answers))
            text.append(f" 1–{rows}: pick an annotator's answer, then {key('review.accept')} accepts")
            text.append(f" · {key('review.own_answer')}: your own")
        else:
            who = one_line(bundle.answers[selected].annotator)
            text.append(f" {key('review.accept')}: accept {who}'s answer", style="bold")
            text.append(f" · another digit: another annotator · {key('review.own_answer')}: your own")
    if feedback.plain:
        text.append(" · ")
        text.append_text(feedback)
    return text


class ReviewStatusLine(Static):
    def show(
        self,
        *,
        mode: Mode,
        task: str,
        bundle: ReviewBundle | None,
        selected: int | None,
        tie_pending: bool,
        feedback: Text,
        key: Callable[[str], str],
    ) -> None:
        text = status_text(
            mode=mode, task=task, bundle=bundle, selected=selected, tie_pending=tie_pending, feedback=feedback, key=key
        )
        self.update(text, layout=False)  # one line, always
