"""The annotation app's screens, one per module."""

from .admin import AdminScreen
from .annotate import AnnotateContext, AnnotateScreen, AnnotationHost
from .confirm import ConfirmScreen
from .dataset_picker import DatasetPickerScreen
from .help import HelpScreen
from .pair import PairScreen
from .rank import RankScreen
from .text_prompt import TextPromptScreen

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
    "TextPromptScreen",
]
