"""Screens shared by every feature: the dataset picker, help, and the pop-ups (a yes/no question, a line of text)."""

from rlhf_tui.app.screens.confirm import ConfirmScreen
from rlhf_tui.app.screens.dataset_picker import DatasetPickerScreen
from rlhf_tui.app.screens.help import HelpScreen
from rlhf_tui.app.screens.text_prompt import TextPromptScreen

__all__ = ["ConfirmScreen", "DatasetPickerScreen", "HelpScreen", "TextPromptScreen"]
