"""The annotation app's screens, one per module."""

from .admin import AdminScreen
from .annotate import AnnotateContext, AnnotateScreen, AnnotationHost
from .confirm import ConfirmScreen
from .dataset_picker import DatasetPickerScreen
from .help import HelpScreen
from .pair import PairScreen
from .rank import RankScreen
from .rate import RateScreen
from .text_prompt import TextPromptScreen
from .thumbs import ThumbsScreen
from .written_answer import WrittenAnswer, WrittenAnswerScreen

__all__ = [
    "AdminScreen",
    "AnnotateContext",
    "AnnotateScreen",
    "AnnotationHost",
    "ConfirmScreen",
    "DatasetPickerScreen",
    "HelpScreen",
    "PairScreen",
    "RankScreen",
    "RateScreen",
    "TextPromptScreen",
    "ThumbsScreen",
    "WrittenAnswer",
    "WrittenAnswerScreen",
]
