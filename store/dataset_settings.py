"""A dataset's settings (the `settings` JSON of its row): what each key means and its check.

Known keys:
- `assignment`: "fill" (records that have some answers and need more come first, so overlap
  completes early; the default when K > 1) or "spread" (the fewest answers first).
- `calibration`: the first M records (import order) go to every annotator; agreement reports
  them apart.
- `markdown`: show answers as a safe subset of Markdown (default: literally)."""

from __future__ import annotations

from typing import Any

from .assignment import STRATEGIES
from .errors import InvalidInputError

KNOWN = ("assignment", "calibration", "markdown")


def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings if every key is known and every value acceptable, else a one-line error."""
    unknown = sorted(set(settings) - set(KNOWN))
    if unknown:
        raise InvalidInputError(f"unknown dataset setting {unknown[0]!r} (known: {', '.join(KNOWN)})")
    strategy = settings.get("assignment")
    if strategy is not None and strategy not in STRATEGIES:
        raise InvalidInputError(f"assignment must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
    calibration = settings.get("calibration")
    if calibration is not None and (
        not isinstance(calibration, int) or isinstance(calibration, bool) or not 0 <= calibration <= 100_000
    ):
        raise InvalidInputError("calibration must be a whole number of records from 0 to 100,000")
    markdown = settings.get("markdown")
    if markdown is not None and not isinstance(markdown, bool):
        raise InvalidInputError("markdown must be true or false")
    return settings


def assignment_of(settings: dict[str, Any], k: int) -> tuple[str, int]:
    """(strategy, calibration size) of a dataset with K annotators per record."""
    strategy = settings.get("assignment") or ("fill" if k > 1 else "spread")
    return strategy, int(settings.get("calibration") or 0)
