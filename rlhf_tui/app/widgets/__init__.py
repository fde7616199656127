"""The annotation app's widgets, one per module."""

from .candidate_card import CandidateCard, WrittenCard
from .candidate_grid import CandidateGrid, grid_shape
from .guidelines_panel import GuidelinesPanel
from .key_footer import KeyFooter
from .prompt_view import PromptView
from .ratings_panel import RatingsPanel
from .status_line import StatusFacts, StatusLine

__all__ = [
    "CandidateCard",
    "CandidateGrid",
    "GuidelinesPanel",
    "KeyFooter",
    "PromptView",
    "RatingsPanel",
    "StatusFacts",
    "StatusLine",
    "WrittenCard",
    "grid_shape",
]
