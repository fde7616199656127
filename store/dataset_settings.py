"""A dataset's settings (the `settings` JSON of its row): what each key means and its check.

Known keys:
- `assignment`: "fill" (records that have some answers and need more come first, so overlap
  completes early; the default when K > 1), "spread" (the fewest answers first) or "uncertain"
  (as fill, but records whose candidates the reward model cannot separate come first).
- `scorers` (uncertain): the one or two scorers (`rlhf-tui score --scorer NAME`) that order the
  queue; by default the one that scored the dataset last. With two, where they disagree most
  comes first.
- `calibration`: the first M records (import order) go to every annotator; agreement reports
  them apart.
- `markdown`: show answers as a safe subset of Markdown (default: literally).
- `axes` (rate tasks): the axes every candidate is rated on, each
  `{"name", "low", "high", "guidance", "overall", "required"}`; one may be the overall axis.
- `rank_too` (rate tasks): also rank the candidates.
- `written_answers`: annotators may write their own answer (`w`).
- `show_written`: written answers may be shown to other annotators as normal candidates:
  `rlhf-tui promote-written` adds them to their records' candidates (between rounds, so that
  nobody is halfway through a record whose candidates change).
- `model_after_submit`: once an annotator has submitted a record, the app shows them the reward
  model's ranking of it (for calibration sessions); never before they answer.
- `archived`: hidden from the pickers and the list of datasets; everything in it is kept."""

from __future__ import annotations

from typing import Any

from store.answer_checks import is_whole_number
from store.errors import InvalidInputError
from store.names import STRATEGIES

KNOWN = (
    "assignment",
    "scorers",
    "calibration",
    "markdown",
    "axes",
    "rank_too",
    "written_answers",
    "show_written",
    "model_after_submit",
    "archived",
)
MAX_AXES = 8
MAX_SCORER_NAME = 200
MAX_AXIS_NAME = 50
MAX_GUIDANCE = 500
MAX_SCALE = 100  # points on one axis


def _check_bool(settings: dict[str, Any], key: str) -> None:
    value = settings.get(key)
    if value is not None and not isinstance(value, bool):
        raise InvalidInputError(f"{key} must be true or false")


def _check_scorers(scorers: object) -> None:
    if scorers is None:
        return
    if (
        not isinstance(scorers, list)
        or not 1 <= len(scorers) <= 2
        or not all(isinstance(s, str) and s.strip() and len(s) <= MAX_SCORER_NAME for s in scorers)
    ):
        raise InvalidInputError(
            f"scorers must be a list of one or two scorer names of 1 to {MAX_SCORER_NAME} characters"
        )
    if len(set(scorers)) != len(scorers):
        raise InvalidInputError("scorers names the same scorer twice")


def check_axes(axes: object) -> list[dict[str, Any]]:
    """The axes with defaults filled in (guidance "", overall false, required true), or a one-line error."""
    if not isinstance(axes, list) or not 1 <= len(axes) <= MAX_AXES:
        raise InvalidInputError(f"axes must be a list of 1 to {MAX_AXES} axes")
    out, names = [], set()
    for i, axis in enumerate(axes, start=1):
        if not isinstance(axis, dict):
            raise InvalidInputError(f"axis {i} must be a table with name, low and high")
        unknown = sorted(set(axis) - {"name", "low", "high", "guidance", "overall", "required"})
        if unknown:
            raise InvalidInputError(f"axis {i}: unknown key {unknown[0]!r}")
        name = axis.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_AXIS_NAME:
            raise InvalidInputError(f"axis {i}: name must be text of 1 to {MAX_AXIS_NAME} characters")
        if name in names:
            raise InvalidInputError(f"axis {i}: the name {name!r} is used twice")
        names.add(name)
        low, high = axis.get("low"), axis.get("high")
        if not (is_whole_number(low) and is_whole_number(high)) or not low < high or high - low + 1 > MAX_SCALE:  # type: ignore[operator]
            raise InvalidInputError(f"axis {name!r}: low and high must be whole numbers with low < high")
        guidance = axis.get("guidance", "")
        if not isinstance(guidance, str) or len(guidance) > MAX_GUIDANCE:
            raise InvalidInputError(f"axis {name!r}: guidance must be text of at most {MAX_GUIDANCE} characters")
        for key in ("overall", "required"):
            if not isinstance(axis.get(key, key == "required"), bool):
                raise InvalidInputError(f"axis {name!r}: {key} must be true or false")
        out.append(
            {
                "name": name,
                "low": low,
                "high": high,
                "guidance": guidance,
                "overall": axis.get("overall", False),
                "required": axis.get("required", True),
            }
        )
    if sum(1 for a in out if a["overall"]) > 1:
        raise InvalidInputError("at most one axis can be the overall one")
    return out


def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings (axes normalised) if every key is known and every value acceptable, else a one-line error."""
    unknown = sorted(set(settings) - set(KNOWN))
    if unknown:
        raise InvalidInputError(f"unknown dataset setting {unknown[0]!r} (known: {', '.join(KNOWN)})")
    strategy = settings.get("assignment")
    if strategy is not None and strategy not in STRATEGIES:
        raise InvalidInputError(f"assignment must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
    _check_scorers(settings.get("scorers"))
    calibration = settings.get("calibration")
    if calibration is not None and (not is_whole_number(calibration) or not 0 <= calibration <= 100_000):
        raise InvalidInputError("calibration must be a whole number of records from 0 to 100,000")
    for key in ("markdown", "rank_too", "written_answers", "show_written", "model_after_submit", "archived"):
        _check_bool(settings, key)
    if settings.get("axes") is not None:
        settings = {**settings, "axes": check_axes(settings["axes"])}
    return settings


def assignment_of(settings: dict[str, Any], k: int) -> tuple[str, int]:
    """(strategy, calibration size) of a dataset with K annotators per record."""
    strategy = settings.get("assignment") or ("fill" if k > 1 else "spread")
    return strategy, int(settings.get("calibration") or 0)


def overall_axis(settings: dict[str, Any]) -> str | None:
    """The name of the overall axis, or of the only axis, or None."""
    axes = settings.get("axes") or []
    overall = [a["name"] for a in axes if a.get("overall")]
    if overall:
        return str(overall[0])
    return str(axes[0]["name"]) if len(axes) == 1 else None
