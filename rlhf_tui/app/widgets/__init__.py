"""The annotation app's widgets, one per module."""

from rlhf_tui.app.widgets.candidate_card import CandidateCard, WrittenCard
from rlhf_tui.app.widgets.candidate_grid import CandidateGrid, grid_shape
from rlhf_tui.app.widgets.guidelines_panel import GuidelinesPanel
from rlhf_tui.app.widgets.key_footer import KeyFooter
from rlhf_tui.app.widgets.prompt_view import PromptView
from rlhf_tui.app.widgets.ratings_panel import RatingsPanel
from rlhf_tui.app.widgets.status_line import StatusFacts, StatusLine

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
