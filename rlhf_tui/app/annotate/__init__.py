"""The annotate feature: the screen every task shares (`screen`), one mode per task (rank, pair, rate,
thumbs), the written-answer editor, and the controllers behind them — the session and the records
fetched ahead (`session`, `record_feed`), the answer being built (`answering`, `ranking`,
`rating_sheet`) and the progress on the status line (`progress_tracker`)."""

from rlhf_tui.app.annotate.pair import PairScreen
from rlhf_tui.app.annotate.rank import RankScreen
from rlhf_tui.app.annotate.rate import RateScreen
from rlhf_tui.app.annotate.screen import AnnotateContext, AnnotateScreen, AnnotationHost
from rlhf_tui.app.annotate.thumbs import ThumbsScreen
from rlhf_tui.app.annotate.written_answer import WrittenAnswer, WrittenAnswerScreen

__all__ = [
    "AnnotateContext",
    "AnnotateScreen",
    "AnnotationHost",
    "PairScreen",
    "RankScreen",
    "RateScreen",
    "ThumbsScreen",
    "WrittenAnswer",
    "WrittenAnswerScreen",
]
