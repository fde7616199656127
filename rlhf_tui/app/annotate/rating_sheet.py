"""The ratings an annotator is giving one record in a rate task: a sheet of cells, one per
(candidate shown, axis), a cursor on one cell, and the digits being typed into it. With
the dataset's `rank_too`, a last column takes each candidate's rank (1 = best, the same
number for a tie). Positions are places on screen; `shown_order[position]` is the
canonical index the store keeps. No Textual here.

Typing: a digit sets the cursor's cell as soon as no other value of the scale starts with
the digits typed (1–7: at once; 1–10: "1" waits for a second digit or a pause, "10" is
set at once), then the cursor moves on to the next empty cell, row by row (so filling in
what a refused submit named never overwrites a rating by accident); with none left
empty, to the next cell."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rlhf_tui.app.annotate.answering import Rating


@dataclass(frozen=True)
class Axis:
    name: str
    low: int
    high: int
    guidance: str = ""
    overall: bool = False
    required: bool = True
    is_rank: bool = False  # the rank column of a rate task with rank_too

    @property
    def values(self) -> range:
        return range(self.low, self.high + 1)


def axes_of(settings: Mapping[str, Any]) -> list[Axis]:
    """The dataset's rating axes (the store has checked them when they were set)."""
    return [
        Axis(
            name=str(axis["name"]),
            low=int(axis["low"]),
            high=int(axis["high"]),
            guidance=str(axis.get("guidance") or ""),
            overall=bool(axis.get("overall")),
            required=bool(axis.get("required", True)),
        )
        for axis in settings.get("axes") or []
    ]


def rank_axis(candidates: int) -> Axis:
    return Axis(
        "rank", 1, candidates, "1 = best; give two candidates the same number for a tie", required=True, is_rank=True
    )


@dataclass(frozen=True)
class Typed:
    """What a keypress did: `set` a value (the cursor moved on), is `waiting` for another
    digit, or was refused (`refusal` says why, one line)."""

    set: bool = False
    waiting: bool = False
    refusal: str = ""


@dataclass
class RatingSheet:
    shown_order: tuple[int, ...]
    columns: list[Axis]
    values: dict[tuple[int, int], int] = field(default_factory=dict)  # (position, column) → value
    position: int = 0
    column: int = 0
    typed: str = ""  # digits typed into the cursor's cell, not yet a value

    @classmethod
    def for_record(cls, shown_order: tuple[int, ...], axes: list[Axis], rank_too: bool) -> RatingSheet:
        columns = [*axes, rank_axis(len(shown_order))] if rank_too else list(axes)
        return cls(tuple(shown_order), columns)

    @property
    def size(self) -> int:
        return len(self.shown_order)

    @property
    def axis(self) -> Axis:
        return self.columns[self.column]

    @property
    def has_rank(self) -> bool:
        return any(axis.is_rank for axis in self.columns)

    # -- the cursor ----------------------------------------------------------------
    def move(self, step: int) -> None:
        """To the next (or previous) cell, row by row: after a candidate's last axis, the next candidate's first."""
        cells = self.size * len(self.columns)
        if not cells:
            return
        index = min(cells - 1, max(0, self.position * len(self.columns) + self.column + step))
        self.position, self.column = divmod(index, len(self.columns))

    def move_axis(self, step: int) -> None:
        self.column = min(len(self.columns) - 1, max(0, self.column + step))

    def move_candidate(self, step: int) -> None:
        self.position = min(self.size - 1, max(0, self.position + step))

    def go_to(self, position: int, column: int) -> None:
        self.position, self.column, self.typed = position, column, ""

    # -- typing ----------------------------------------------------------------------
    def type_char(self, char: str) -> Typed:
        """A digit (or '-' first, on a scale below zero) typed into the cursor's cell."""
        axis = self.axis
        typed = self.typed + char
        fits = [value for value in axis.values if str(value).startswith(typed)]
        if not fits:
            if self.typed and self.commit_typed():
                return self.type_char(char)  # the earlier digits were a value; this one starts the next cell
            self.typed = ""
            return Typed(refusal=f"{axis.name} takes {axis.low} to {axis.high}")
        if any(str(value) != typed for value in fits):
            self.typed = typed  # a longer value could still follow
            return Typed(waiting=True)
        self.typed = ""
        self._set(int(typed))
        return Typed(set=True)

    def commit_typed(self) -> bool:
        """Set what was typed (the pause after a digit, or a move); False when it is no value."""
        typed, self.typed = self.typed, ""
        if typed and typed != "-" and int(typed) in self.axis.values:
            self._set(int(typed))
            return True
        return False

    def _set(self, value: int) -> None:
        here = (self.position, self.column)
        self.values[here] = value
        cells = [(p, c) for p in range(self.size) for c in range(len(self.columns))]
        index = cells.index(here)
        empty = [cell for cell in cells[index + 1 :] + cells[:index] if cell not in self.values]
        if empty:
            self.position, self.column = empty[0]
        else:
            self.move(1)

    def clear(self) -> bool:
        """Clear the cursor's cell (or what is being typed into it); False when there was nothing."""
        if self.typed:
            self.typed = ""
            return True
        return self.values.pop((self.position, self.column), None) is not None

    # -- reading it --------------------------------------------------------------------
    def value(self, position: int, column: int) -> int | None:
        return self.values.get((position, column))

    def rated(self, position: int) -> tuple[int, int]:
        """(cells given, cells required) of a candidate's row, the rank included."""
        required = [c for c, axis in enumerate(self.columns) if axis.required]
        return sum(1 for c in required if (position, c) in self.values), len(required)

    def missing(self) -> list[tuple[int, int]]:
        """The required cells still empty, row by row."""
        return [
            (position, column)
            for position in range(self.size)
            for column, axis in enumerate(self.columns)
            if axis.required and (position, column) not in self.values
        ]

    def rank_problem(self) -> str:
        """Why the ranks given cannot be submitted ('' when they can): they must run from 1 without gaps."""
        if not self.has_rank:
            return ""
        column = next(c for c, axis in enumerate(self.columns) if axis.is_rank)
        ranks = [self.values.get((position, column), 0) for position in range(self.size)]
        used = sorted(set(ranks))
        if used != list(range(1, len(used) + 1)):
            shown = ", ".join(str(r) for r in ranks)
            return f"ranks must run from 1 without gaps (the same number for a tie); given: {shown}"
        return ""

    def ratings(self) -> tuple[Rating, ...]:
        """(canonical index, axis, value) for the store, in canonical then axis order."""
        out = [
            (self.shown_order[position], column, self.columns[column].name, float(value))
            for (position, column), value in self.values.items()
            if not self.columns[column].is_rank
        ]
        return tuple((canonical, name, value) for canonical, _, name, value in sorted(out))

    def canonical_ranks(self) -> tuple[int, ...]:
        """`ranks[canonical index]` (0 = not ranked yet); () without a rank column."""
        if not self.has_rank:
            return ()
        column = next(c for c, axis in enumerate(self.columns) if axis.is_rank)
        ranks = [0] * self.size
        for position in range(self.size):
            ranks[self.shown_order[position]] = self.values.get((position, column), 0)
        return tuple(ranks)

    def restore(self, ratings: tuple[Rating, ...], ranks: tuple[int, ...]) -> None:
        """Fill the sheet from a draft or an earlier answer (values off the scale are left out)."""
        by_name = {axis.name: c for c, axis in enumerate(self.columns) if not axis.is_rank}
        where = {canonical: position for position, canonical in enumerate(self.shown_order)}
        for canonical, name, value in ratings:
            column = by_name.get(name)
            if column is not None and canonical in where and int(value) in self.columns[column].values:
                self.values[(where[canonical], column)] = int(value)
        if self.has_rank and len(ranks) == self.size:
            column = next(c for c, axis in enumerate(self.columns) if axis.is_rank)
            for canonical, rank in enumerate(ranks):
                if rank and canonical in where:
                    self.values[(where[canonical], column)] = rank
        missing = self.missing()
        if missing:  # the cursor where the work stopped
            self.position, self.column = missing[0]

    def best_position(self) -> int | None:
        """The candidate ranked first, else the one rated highest on the overall axis (the
        only axis when there is one), else None: its text starts a written answer."""
        if self.has_rank:
            column = next(c for c, axis in enumerate(self.columns) if axis.is_rank)
            firsts = [p for p in range(self.size) if self.values.get((p, column)) == 1]
            if firsts:
                return firsts[0]
        rated = [c for c, axis in enumerate(self.columns) if not axis.is_rank]
        overall = [c for c in rated if self.columns[c].overall] or (rated if len(rated) == 1 else [])
        if not overall:
            return None
        scores = {p: self.values[(p, overall[0])] for p in range(self.size) if (p, overall[0]) in self.values}
        return max(scores, key=lambda p: (scores[p], -p)) if scores else None
