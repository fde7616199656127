"""After an annotator submits a record, the reward model's ranking of it, as a notice, where the
dataset shows it (`model_after_submit`, for calibration sessions). Asked only after the answer is
saved (the store worker runs jobs in order), and the store refuses it before: never anchoring."""

from __future__ import annotations

from collections.abc import Sequence

from textual.message import Message
from textual.message_pump import MessagePump

from rlhf_tui.app.model_ranking import model_order, ranking_line, scores_by_scorer
from rlhf_tui.app.store_jobs import StoreJobQueue
from store import PreferenceStore
from store.types import Record


class ModelAnswerShown(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


def ask_model_after_submit(
    owner: MessagePump,
    store: PreferenceStore,
    jobs: StoreJobQueue,
    record: Record,
    shown_order: Sequence[int],
    labels: Sequence[str],
    annotator: str,
) -> None:
    """ModelAnswerShown to `owner` with the latest scorer's ranking in the labels the annotator saw;
    nothing when the record is not scored (or the store refuses)."""
    # labels are by position on screen; shown_order[position] is the candidate there.
    by_index = {index: labels[position] for position, index in enumerate(shown_order) if position < len(labels)}
    count = len(record.candidates)
    record_id = record.id

    def read() -> str:
        try:
            scores = store.model_after_submit(record_id, annotator)
        except Exception:  # not scored, or refused: the annotator is not bothered with it
            return ""
        for scorer, scored in scores_by_scorer(scores).items():
            ranked = model_order(scored, count)
            if ranked is not None and len(by_index) == count:
                names = [by_index[i] for i in range(count)]
                return ranking_line(scorer, ranked[0], ranked[1], names, "its answer, shown after yours").plain
        return ""

    jobs.submit(owner, "reading the model's answer", read, lambda text: ModelAnswerShown(text) if text else None)
