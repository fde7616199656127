"""Errors a user can cause while training. They are StoreErrors so the CLI prints them as one line."""

from __future__ import annotations

from store.errors import StoreError


class TrainerError(StoreError):
    """Bad configuration, missing data or model, or a run that cannot go on; the message says what to do."""


class ConfigError(TrainerError):
    """A config file or flag value is not acceptable."""


class TrainingOOMError(TrainerError):
    """The accelerator ran out of memory during training."""
