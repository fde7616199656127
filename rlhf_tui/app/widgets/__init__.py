"""The annotation app's widgets, one per module."""

from .candidate_card import CandidateCard
from .candidate_grid import CandidateGrid, grid_shape
from .guidelines_panel import GuidelinesPanel
from .key_footer import KeyFooter
from .prompt_view import PromptView
from .status_line import StatusFacts, StatusLine

__all__ = [
    "CandidateCard",
    "CandidateGrid",
    "GuidelinesPanel",
    "KeyFooter",
    "PromptView",
    "StatusFacts",
    "StatusLine",
    "grid_shape",
]
