"""One candidate answer in a bordered card that scrolls on its own; its title is the
key that ranks it (1…9, or A/B) and its subtitle the rank it has been given."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from store import Candidate

from ..ranking import ordinal
from ..safe_text import render_untrusted



class CandidateCard(VerticalScroll, can_focus=True):
    DEFAULT_CSS = """
    CandidateCard { border: round $panel-lighten-2; padding: 0 1; height: 1fr; min-height: 4; }
    CandidateCard:focus { border: round $accent; }
    CandidateCard.-ranked { border: round $success; }
    CandidateCard.-best { border: heavy $success; }
    CandidateCard.-chosen { border: heavy $success; }
    CandidateCard.-rejected { border: round $error; }
    CandidateCard > Static { width: 1fr; }
    """

    def __init__(self, position: int, label: str) -> None:
        super().__init__(classes="candidate")
        self.position = position
        self.label = label
        self.text_length = 0

    def compose(self):
        yield Static(classes="candidate-body")

    def on_mount(self) -> None:
        self.border_title = Content(self.label)

    def show(self, candidate: Candidate, limit: int | None, expand_key: str = "e") -> None:
        self.text_length = len(candidate.text)
        self.query_one(".candidate-body", Static).update(render_untrusted(candidate.text, limit, expand_key))
        self.scroll_home(animate=False)

    def show_rank(self, rank: int, tied: bool, pending_hint: str = "") -> None:
        """Rank 0 means not ranked yet; `tied` when another card shares the rank."""
        if rank:
            text = f"{'tied ' if tied else ''}{ordinal(rank)}"
        else:
            text = pending_hint
        self.border_subtitle = Content(text) if text else None
        self.update_classes({"-ranked": rank > 0, "-best": rank == 1})  # one style update, not two

    def show_choice(self, verdict: str) -> None:
        """Pair mode: '' (undecided), 'better', 'worse', 'tie', 'both bad' — from an earlier answer."""
        self.border_subtitle = Content(verdict) if verdict else None
        self.update_classes({"-chosen": verdict in ("better", "tie"), "-rejected": verdict in ("worse", "both bad")})
