"""The admin screen (`screen`), the figures it reads in one store job (`figures`) and its team table
(`team_view`)."""

from rlhf_tui.app.admin.screen import AdminScreen

__all__ = ["AdminScreen"]
