"""Errors a user can cause while training. They are UserErrors so the CLI prints them as one line."""

from __future__ import annotations

from store.errors import UserError


class TrainerError(UserError):
    """Bad configuration, missing data or model, or a run that cannot go on; the message says what to do."""


class ConfigError(TrainerError):
    """A config file or flag value is not acceptable."""


class TrainingOOMError(TrainerError):
    """The accelerator ran out of memory during training."""
