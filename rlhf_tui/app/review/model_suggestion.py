"""The reward model's suggestion beside the annotators' answers on the review screen: each
scorer's ranking of the record's candidates and its margin, marked as the model's (not an
annotator's), and which annotators chose the same best answer.

Only the review screen shows it, and only admins may read scores (the service refuses
`record_scores` to anyone else): annotators never see the model before they answer."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.message import Message
from textual.widgets import Static

from rlhf_tui.app.model_ranking import model_order, ranking_line, scores_by_scorer
from rlhf_tui.app.store_jobs import StoreJobQueue
from rlhf_tui.terminal_text import neutralise
from store import PreferenceStore
from store.types import Annotation, Record

MAX_SCORERS_SHOWN = 2


def suggestion_text(
    scores: Sequence[tuple[str, int, float]], labels: Sequence[str], answers: Sequence[Annotation]
) -> Text:
    """'Reward model rm (the model's, not an annotator's): 2 ≻ 1 ≻ 3 · margin 1.20 (77% sure) · same best
    as ann, bob' per scorer (two at most); empty when no scorer scored every candidate."""
    text = Text(end="")
    shown = 0
    for scorer, scored in scores_by_scorer(scores).items():
        ranked = model_order(scored, len(labels))
        if shown == MAX_SCORERS_SHOWN or ranked is None:
            continue
        order, margin = ranked
        if shown:
            text.append("\n")
        shown += 1
        text.append_text(ranking_line(scorer, order, margin, labels, "the model's, not an annotator's"))
        if margin > 0:
            same = [a.annotator for a in answers if a.status == "submitted" and _best(a) == order[0]]
            text.append(" · same best as " + (", ".join(neutralise(n) for n in same) if same else "nobody"))
    return text


def _best(answer: Annotation) -> int | None:
    tops = [i for i, r in enumerate(answer.ranks) if r == 1]
    return tops[0] if len(tops) == 1 and not answer.both_bad else None


class ModelSuggestion(Static):
    """One or two lines under the answers table; filled by a store job per record shown."""

    class Loaded(Message):
        def __init__(self, record_id: int, scores: list[tuple[str, int, float]] | None, error: str = "") -> None:
            super().__init__()
            self.record_id, self.scores, self.error = record_id, scores, error

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Text("", end=""), id=id)
        self.display = False
        self.record_id: int | None = None
        self._shown_with: tuple[Sequence[str], Sequence[Annotation]] = ((), ())

    def show_record(
        self,
        store: PreferenceStore,
        jobs: StoreJobQueue,
        record: Record | None,
        labels: Sequence[str] = (),
        answers: Sequence[Annotation] = (),
    ) -> None:
        """Ask for the record's scores (or clear the line when no record is shown)."""
        self.record_id = record.id if record is not None else None
        self._shown_with = (labels, answers)
        if record is None:
            self.display = False
            return
        record_id = record.id

        def read() -> ModelSuggestion.Loaded:
            try:
                return self.Loaded(record_id, store.record_scores(record_id))
            except Exception as exc:  # a refusal or an older service: one dim line, review goes on
                return self.Loaded(record_id, None, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

        jobs.submit(self, "reading the reward model's scores", read, lambda loaded: loaded, tag="model")

    def on_model_suggestion_loaded(self, message: Loaded) -> None:
        message.stop()
        if message.record_id != self.record_id:
            return  # the reviewer moved on meanwhile
        if message.scores is None:
            self.update(Text(f"Reward model: {neutralise(message.error)}", style="dim", end=""))
            self.display = True
            return
        labels, answers = self._shown_with
        text = suggestion_text(message.scores, labels, answers)
        self.update(text)
        self.display = bool(text.plain)  # nothing scored: no line at all
