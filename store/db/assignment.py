"""Who gets which record next, answered from memory.

The process that owns the store file (the embedded store or `rlhf-tui serve`) is the only
writer, so it can keep each dataset's assignment state in memory and keep it exact:
submission counts per record, who answered what, drafts and live leases. Picking the next
record is then a memchr over a byte array instead of a scan of the tables.

The `uncertain` strategy walks the records in the reward model's order instead of import
order: a permutation computed from candidate_scores (store.db.uncertainty) and a copy of the
counts laid out in that order, so the walk is still a memchr."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

SATURATED = 255  # counts stop here; only "fewer than K" matters


@dataclass
class QueueOrder:
    """The records after the calibration ones, most uncertain first (see store.db.uncertainty)."""

    positions: array  # rank in the order -> position in `ids`
    ranks: array  # position in `ids` -> rank in the order (-1: a calibration record, not in the order)
    counts: bytearray  # submissions per record, by rank (kept in step with DatasetAssignment.counts)
    scorers: tuple[str, ...] = ()  # the scorers the order comes from (none: not scored yet, import order)
    scored: int = 0  # records with a margin (or a disagreement); they lead, the others follow in import order


# Records one annotator may hold at once (all datasets together): the app holds its prefetch and
# the record on screen, so this only stops someone leasing a dataset away from everyone else.
MAX_LEASES_PER_ANNOTATOR = 40


@dataclass
class DatasetAssignment:
    dataset_id: int
    task: str
    k: int
    ids: array  # record ids in import order (ascending)
    counts: bytearray  # submitted answers per record, by position in `ids`
    n_candidates: bytearray  # candidates per record, by position
    done: dict[str, set[int]] = field(default_factory=dict)  # submitted or discarded, per annotator
    drafts: dict[str, set[int]] = field(default_factory=dict)
    leases: dict[int, dict[str, datetime]] = field(default_factory=dict)  # record -> annotator -> expiry
    skipped: dict[str, set[int]] = field(default_factory=dict)  # per annotator: offered after the others
    # "fill": records that have some answers and need more come first, so overlap completes early;
    # "spread": the fewest answers first; "uncertain": as fill, but in `order` instead of import order.
    strategy: str = "spread"
    order: QueueOrder | None = None
    calibration: int = 0  # the first M records go to every annotator, before the others
    settings: dict = field(default_factory=dict)  # the dataset's settings (axes etc.), for checking answers

    def position(self, record_id: int) -> int:
        pos = bisect_left(self.ids, record_id)
        if pos < len(self.ids) and self.ids[pos] == record_id:
            return pos
        return -1

    def live_leases_of_others(self, record_id: int, annotator: str, now: datetime) -> int:
        held = self.leases.get(record_id)
        if not held:
            return 0
        return sum(1 for who, expires in held.items() if who != annotator and expires > now)

    def holds(self, record_id: int, annotator: str) -> bool:
        """The record was handed to the annotator and not released, answered or skipped since
        (the lease may have expired: then others may have taken it meanwhile)."""
        return annotator in self.leases.get(record_id, {})

    def live_leases_of(self, annotator: str, now: datetime) -> set[int]:
        return {r for r, held in self.leases.items() if held.get(annotator, now) > now}

    def open_to(self, record_id: int, annotator: str, now: datetime) -> bool:
        """next_records could hand the record to the annotator now: not answered by them, and its
        submissions plus the others' live leases under K."""
        pos = self.position(record_id)
        return (
            pos >= 0
            and record_id not in self.done.get(annotator, ())
            and self.counts[pos] + self.live_leases_of_others(record_id, annotator, now) < self.k
        )

    def pick(self, annotator: str, limit: int, exclude: set[int], now: datetime) -> list[int]:
        """This annotator's drafts first, then the calibration records, then by the strategy
        (fill: most answers still under K first; spread: fewest first; both in import order;
        uncertain: as fill, in the reward model's order), and last the records this annotator skipped."""
        done = self.done.get(annotator, set())
        skipped = self.skipped.get(annotator, set())
        picked: list[int] = []

        def fits(record_id: int, count: int, bounded: bool = True) -> bool:
            return (
                record_id not in done
                and record_id not in exclude
                and record_id not in picked
                and (not bounded or count + self.live_leases_of_others(record_id, annotator, now) < self.k)
            )

        # A draft comes back even when the record has filled up meanwhile: the annotator is told
        # (submission_counts) and may still submit it, counted as over K, or drop it.
        drafts = self.drafts.get(annotator, set())
        for record_id in sorted(drafts - skipped):  # a skipped draft waits with the other skipped records
            pos = self.position(record_id)
            if len(picked) < limit and pos >= 0 and fits(record_id, self.counts[pos], bounded=False):
                picked.append(record_id)
        calibration = min(self.calibration, len(self.ids))
        for pos in range(calibration):
            if len(picked) >= limit:
                return picked
            if self.ids[pos] not in skipped and fits(self.ids[pos], self.counts[pos], bounded=False):
                picked.append(self.ids[pos])
        top = min(self.k, SATURATED)
        levels = range(top) if self.strategy == "spread" else range(top - 1, -1, -1)
        # In the uncertain order, the walk runs over the counts laid out by rank.
        walked, start, to_pos = self.counts, calibration, None
        if self.strategy == "uncertain" and self.order is not None:
            walked, start, to_pos = self.order.counts, 0, self.order.positions
        for count in levels:
            at = start
            while len(picked) < limit:
                at = walked.find(count, at)
                if at < 0:
                    break
                record_id = self.ids[at if to_pos is None else to_pos[at]]
                if record_id not in skipped and fits(record_id, count):
                    picked.append(record_id)
                at += 1
            if len(picked) >= limit:
                return picked
        for record_id in sorted(skipped):
            pos = self.position(record_id)
            if len(picked) >= limit:
                break
            if pos >= 0 and fits(record_id, self.counts[pos], bounded=pos >= calibration and record_id not in drafts):
                picked.append(record_id)
        return picked

    def lease(self, record_ids: list[int], annotator: str, expires: datetime) -> None:
        for record_id in record_ids:
            self.leases.setdefault(record_id, {})[annotator] = expires

    def release(self, record_id: int, annotator: str) -> None:
        held = self.leases.get(record_id)
        if held and held.pop(annotator, None) is not None and not held:
            del self.leases[record_id]

    def release_all(self, annotator: str) -> None:
        for record_id in [r for r, held in self.leases.items() if annotator in held]:
            self.release(record_id, annotator)

    def forget_answer(self, record_id: int, annotator: str, old_status: str) -> None:
        """An admin reopened the annotator's answer: the record is theirs to answer again."""
        pos = self.position(record_id)
        if pos < 0:
            return
        if old_status == "submitted" and self.counts[pos] < SATURATED:
            self._set_count(pos, max(0, self.counts[pos] - 1))
        self.done.get(annotator, set()).discard(record_id)
        self.drafts.get(annotator, set()).discard(record_id)
        self.skipped.get(annotator, set()).discard(record_id)

    def _set_count(self, pos: int, value: int) -> None:
        self.counts[pos] = value
        if self.order is not None and self.order.ranks[pos] >= 0:
            self.order.counts[self.order.ranks[pos]] = value

    def submissions(self, record_id: int) -> int:
        pos = self.position(record_id)
        return self.counts[pos] if pos >= 0 else 0

    def record_answer(self, record_id: int, annotator: str, old_status: str | None, new_status: str) -> None:
        """Keep counts and sets in step with an annotation that went from old to new status."""
        pos = self.position(record_id)
        if pos < 0:
            return
        if old_status == "submitted" and new_status != "submitted" and self.counts[pos] < SATURATED:
            self._set_count(pos, max(0, self.counts[pos] - 1))
        if new_status == "submitted" and old_status != "submitted" and self.counts[pos] < SATURATED:
            self._set_count(pos, self.counts[pos] + 1)
        done = self.done.setdefault(annotator, set())
        drafts = self.drafts.setdefault(annotator, set())
        if new_status == "draft":
            drafts.add(record_id)
            done.discard(record_id)
        else:
            drafts.discard(record_id)
            done.add(record_id)
        if new_status != "draft":
            self.release(record_id, annotator)


def load_assignment(
    con: duckdb.DuckDBPyConnection,
    dataset_id: int,
    task: str,
    k: int,
    now: datetime,
    strategy: str = "spread",
    calibration: int = 0,
) -> DatasetAssignment:
    """Build a dataset's state with three queries (the only scans, once per process)."""
    # Fetched as Arrow and copied buffer-to-buffer: a million records load in well under a second.
    table = (
        con.sql(
            """
        SELECT r.id::BIGINT AS id, least(coalesce(s.n, 0), 255)::UTINYINT AS n, r.n_candidates::UTINYINT AS c
        FROM records r
        LEFT JOIN (SELECT record_id, count(*) AS n FROM annotations
                   WHERE dataset_id = $d AND status = 'submitted' GROUP BY record_id) s ON s.record_id = r.id
        WHERE r.dataset_id = $d ORDER BY r.id
        """,
            params={"d": dataset_id},
        )
        .to_arrow_table()
        .combine_chunks()
    )
    ids = array("q")
    ids.frombytes(column_bytes(table, "id", 8))
    state = DatasetAssignment(
        dataset_id,
        task,
        k,
        ids,
        bytearray(column_bytes(table, "n", 1)),
        bytearray(column_bytes(table, "c", 1)),
        strategy=strategy,
        calibration=calibration,
    )
    for annotator, record_id in con.execute(
        "SELECT DISTINCT annotator, record_id FROM skips WHERE dataset_id = ?", [dataset_id]
    ).fetchall():
        state.skipped.setdefault(annotator, set()).add(record_id)
    for annotator, status, record_id in con.execute(
        "SELECT annotator, status, record_id FROM annotations WHERE dataset_id = ?", [dataset_id]
    ).fetchall():
        (state.drafts if status == "draft" else state.done).setdefault(annotator, set()).add(record_id)
    for record_id, annotator, expires in con.execute(
        """
        SELECT l.record_id, l.annotator, max(l.expires_at) FROM leases l
        JOIN records r ON r.id = l.record_id
        WHERE r.dataset_id = $d AND l.expires_at > $now
          AND NOT EXISTS (SELECT 1 FROM annotations a WHERE a.record_id = l.record_id AND a.annotator = l.annotator
                          AND a.status IN ('submitted', 'discarded'))
        GROUP BY l.record_id, l.annotator
        """,
        {"d": dataset_id, "now": now},
    ).fetchall():
        state.leases.setdefault(record_id, {})[annotator] = expires
    return state


def column_bytes(table: pa.Table, name: str, width: int) -> bytes:
    """The raw values of a non-null fixed-width Arrow column."""
    column = table.column(name)
    if not table.num_rows:
        return b""
    chunk = column.chunk(0)
    return chunk.buffers()[1].to_pybytes()[chunk.offset * width : (chunk.offset + len(chunk)) * width]
