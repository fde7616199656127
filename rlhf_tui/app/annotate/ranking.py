"""The ranking an annotator is building for one record, by *shown position*, and its
translation to canonical candidate indexes for the store. No Textual here."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Ranking:
    """Ranked groups in order, best first; positions in one group share a rank (a tie).

    Positions are 0-based places on screen; `shown_order[position]` is the canonical index."""

    shown_order: tuple[int, ...]
    groups: list[list[int]] = field(default_factory=list)
    tie_pending: bool = False

    @property
    def size(self) -> int:
        return len(self.shown_order)

    def rank_of(self, position: int) -> int:
        """1-based rank of a shown position, 0 when not ranked yet."""
        for rank, group in enumerate(self.groups, start=1):
            if position in group:
                return rank
        return 0

    def ranked_positions(self) -> list[int]:
        return [p for group in self.groups for p in group]

    def unranked_positions(self) -> list[int]:
        ranked = set(self.ranked_positions())
        return [p for p in range(self.size) if p not in ranked]

    @property
    def is_empty(self) -> bool:
        return not self.groups

    @property
    def is_complete(self) -> bool:
        return not self.unranked_positions()

    def toggle(self, position: int) -> None:
        """Give the position the next rank (or share the last one after `tie`); again: take it out."""
        if not 0 <= position < self.size:
            return
        if self.rank_of(position):
            for group in self.groups:
                if position in group:
                    group.remove(position)
            self.groups = [g for g in self.groups if g]
        elif self.tie_pending and self.groups:
            self.groups[-1].append(position)
        else:
            self.groups.append([position])
        self.tie_pending = False

    def toggle_tie(self) -> None:
        """The next position pressed shares the previous rank; pressing tie again cancels."""
        self.tie_pending = bool(self.groups) and not self.tie_pending

    def clear(self) -> None:
        self.groups = []
        self.tie_pending = False

    def complete_last(self) -> bool:
        """Rank the one remaining position (sharing the last rank if a tie is pending).
        True when the ranking is complete afterwards."""
        remaining = self.unranked_positions()
        if len(remaining) == 1:
            self.toggle(remaining[0])
        return self.is_complete

    def canonical_ranks(self) -> tuple[int, ...]:
        """`ranks[canonical index]` for the store: 1 = best, equal = tie, 0 = unranked."""
        ranks = [0] * self.size
        for position in range(self.size):
            ranks[self.shown_order[position]] = self.rank_of(position)
        return tuple(ranks)

    @classmethod
    def from_canonical(cls, shown_order: tuple[int, ...], ranks: tuple[int, ...]) -> Ranking:
        """Rebuild the groups from stored ranks (a draft or an earlier answer)."""
        ranking = cls(tuple(shown_order))
        if len(ranks) != len(shown_order):
            return ranking
        by_rank: dict[int, list[int]] = {}
        for position, canonical in enumerate(shown_order):
            rank = ranks[canonical]
            if rank > 0:
                by_rank.setdefault(rank, []).append(position)
        ranking.groups = [by_rank[r] for r in sorted(by_rank)]
        return ranking


def ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def written_place(rank: int, candidates: int, whose: str = "your") -> str:
    """Where a written answer of `rank` stands among the candidates, in words that never
    give it a candidate's place ("2nd" is the candidate ranked 2nd): rank r is below the
    candidates ranked better than r and above those ranked r or worse."""
    if rank <= 1:
        return "better than every candidate"
    if rank > candidates:
        return "below every candidate"
    return f"below {whose} {ordinal(rank - 1)}, above {whose} {ordinal(rank)}"


def pair_ranks(shown_order: tuple[int, int], choice: str) -> tuple[tuple[int, int], bool]:
    """Canonical ranks and `both_bad` for a pair decision ('a', 'b', 'tie', 'both_bad')
    where `shown_order[0]` was shown as A."""
    shown_a, shown_b = shown_order
    ranks = [0, 0]
    if choice == "a":
        ranks[shown_a], ranks[shown_b] = 1, 2
    elif choice == "b":
        ranks[shown_a], ranks[shown_b] = 2, 1
    elif choice in ("tie", "both_bad"):
        ranks = [1, 1]
    else:
        raise ValueError(f"unknown pair decision {choice!r}")
    return (ranks[0], ranks[1]), choice == "both_bad"


def pair_choice(shown_order: tuple[int, ...], ranks: tuple[int, ...], both_bad: bool) -> str | None:
    """The decision an earlier pair answer recorded, as shown to this annotator."""
    if len(ranks) != 2 or len(shown_order) != 2 or 0 in ranks:
        return None
    if ranks[0] == ranks[1]:
        return "both_bad" if both_bad else "tie"
    return "a" if ranks[shown_order[0]] < ranks[shown_order[1]] else "b"
