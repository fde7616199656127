"""The embedded store's records and leases: reading records (cached), handing them out, leases,
skips, and finding records by their id in the file."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import duckdb

from store.clock import utcnow
from store.db import reviews as review_queries
from store.db.base import READ_AHEAD, RECORD_CACHE_SIZE, _id_clusters, _page, _prompt_from_row
from store.db.datasets import DatasetQueries
from store.errors import InvalidInputError, PermissionDeniedError, StoreError
from store.types import (
    Candidate,
    Record,
)


class RecordQueries(DatasetQueries):
    def get_records(self, record_ids: Sequence[int]) -> list[Record]:
        """Records with their candidates, in the order of `record_ids`."""
        wanted = [int(i) for i in record_ids]
        with self._lock:
            cache = self._record_cache
            ids = [i for i in wanted if i not in cache]
            for i in wanted:  # hits first become the most recent, so that trimming never drops one of them
                if i in cache:
                    cache.move_to_end(i)
            if ids:
                ids += self._neighbours(ids, cache)
                for record in self._fetch_records(ids):
                    cache[record.id] = record
                while len(cache) > max(RECORD_CACHE_SIZE, len(wanted)):
                    cache.popitem(last=False)
            return [cache[i] for i in wanted]

    def _neighbours(self, ids: list[int], cache: OrderedDict[int, Record]) -> list[int]:
        """Records just after a missed one in its dataset: annotators move through a
        dataset in order, so one query fetches what the next requests will need."""
        state = next((st for st in self._assignments.values() if st.position(ids[-1]) >= 0), None)
        if state is None or state.order is not None:  # an `uncertain` queue does not run in id order
            return []
        pos = state.position(ids[-1])
        after = state.ids[pos + 1 : pos + 1 + READ_AHEAD]
        return [i for i in after if i not in cache and i not in ids]

    def _fetch_records(self, ids: list[int]) -> list[Record]:
        """Records by id (raises for an unknown one). The BETWEEN lets DuckDB skip row
        groups by their min/max, since records and candidates are stored in id order."""
        records = []
        candidates: dict[int, list[Candidate]] = {}
        with self._lock:
            for cluster in _id_clusters(ids):
                params = {"ids": cluster, "lo": cluster[0], "hi": cluster[-1]}
                records += self._q(
                    "SELECT r.id, d.name, r.external_id, r.prompt_text, r.prompt_messages, r.metadata "
                    "FROM records r JOIN datasets d ON d.id = r.dataset_id "
                    "WHERE r.id BETWEEN $lo AND $hi AND list_contains($ids, r.id)",
                    params,
                ).fetchall()
                for rid, idx, text, source in self._q(
                    "SELECT record_id, idx, text, source FROM candidates "
                    "WHERE record_id BETWEEN $lo AND $hi AND list_contains($ids, record_id) ORDER BY record_id, idx",
                    params,
                ).fetchall():
                    candidates.setdefault(rid, []).append(Candidate(idx, text, source))
        by_id = {
            rid: Record(
                id=rid,
                dataset=dname,
                external_id=ext,
                prompt=_prompt_from_row(text, messages),
                candidates=tuple(candidates.get(rid, ())),
                metadata=json.loads(metadata) if metadata else {},
            )
            for rid, dname, ext, text, messages, metadata in records
        }
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise StoreError(f"no record with id {missing[0]}")
        return [by_id[i] for i in ids]

    def get_record(self, record_id: int) -> Record:
        return self.get_records([record_id])[0]

    def record_ids(self, dataset: str, offset: int = 0, limit: int | None = None) -> list[int]:
        """The dataset's record ids in import order; `offset`/`limit` page through them."""
        with self._lock:
            dataset_id = self._dataset_id(dataset)
            rows = self._q(
                "SELECT id FROM records WHERE dataset_id = ? ORDER BY id LIMIT ? OFFSET ?",
                [dataset_id, _page(limit), offset],
            ).fetchall()
        return [r[0] for r in rows]

    def next_records(
        self,
        dataset: str,
        annotator: str,
        limit: int = 1,
        exclude: Iterable[int] = (),
        now: datetime | None = None,
    ) -> list[Record]:
        """The next records this annotator should see, and a lease on each.

        Order: records holding this annotator's draft, then the fewest submissions,
        then import order. A record qualifies if the annotator has not answered it,
        it has fewer than K submissions, and submissions plus other people's live
        leases stay under K."""
        now = now or utcnow()
        with self._lock:
            state = self._assignment(dataset)
            ids = state.pick(annotator, int(limit), {int(i) for i in exclude}, now)
            ids = self._within_lease_cap(annotator, ids, now)
            expires = now + timedelta(seconds=self.lease_seconds)
            state.lease(ids, annotator, expires)  # held in memory at once, so nobody else is given them
        # Outside the lock, so that concurrent callers queue up and share one commit.
        self._persist_leases(ids, annotator, expires)
        return self.get_records(ids)

    def _within_lease_cap(self, annotator: str, ids: list[int], now: datetime) -> list[int]:
        """The picked records the annotator may hold: those they hold already, and new ones up to
        the cap on live leases per annotator (all datasets together)."""
        held: set[int] = set()
        for state in self._assignments.values():
            held |= state.live_leases_of(annotator, now)
        room = self.max_leases_per_annotator - len(held)
        kept = []
        for record_id in ids:
            if record_id in held or room > 0:
                room -= record_id not in held
                kept.append(record_id)
        if ids and not kept:
            raise InvalidInputError(
                f"{annotator} already holds {len(held)} records, the most one annotator may hold at once; "
                "answer, skip or release some first"
            )
        return kept

    def _persist_leases(self, record_ids: Sequence[int], annotator: str, expires: datetime) -> None:
        if not record_ids:
            return
        ids = [int(i) for i in record_ids]

        def write(con: duckdb.DuckDBPyConnection) -> None:
            # Written through so that a restarted service still honours them. Append only (the
            # latest expiry wins when loading): a lease write is the most frequent write there is.
            con.execute(
                "INSERT INTO leases SELECT unnest($ids::BIGINT[]), $who, $expires",
                {"ids": ids, "who": annotator, "expires": expires},
            ).fetchall()

        self._commit.run(write)

    def renew_lease(self, record_id: int, annotator: str) -> None:
        """Extend the annotator's lease on a record handed to them (and not released, answered or
        skipped since); any other record is refused."""
        expires = utcnow() + timedelta(seconds=self.lease_seconds)
        with self._lock:
            state, _ = self._assignment_of_record(record_id)
            if not state.holds(record_id, annotator):
                raise PermissionDeniedError(
                    f"record {record_id} is not leased to {annotator}, so there is no lease to renew "
                    "(records are handed out by next_records)"
                )
            state.lease([record_id], annotator, expires)
        self._persist_leases([record_id], annotator, expires)

    def release_lease(self, record_id: int, annotator: str) -> None:
        with self._lock:
            state, _ = self._assignment_of_record(record_id)
            state.release(record_id, annotator)
        self._commit.run(
            lambda con: con.execute(
                "DELETE FROM leases WHERE record_id = ? AND annotator = ?", [record_id, annotator]
            ).fetchall()
        )

    def skip_record(self, record_id: int, annotator: str) -> None:
        """The annotator passes on a record for now: it comes back to them after the others
        (also after a restart), and others may take it at once."""
        now = utcnow()
        with self._lock:
            state, _ = self._assignment_of_record(record_id)
            state.release(record_id, annotator)
            state.skipped.setdefault(annotator, set()).add(record_id)
            dataset_id = state.dataset_id

        def write(con: duckdb.DuckDBPyConnection) -> None:
            con.execute("DELETE FROM leases WHERE record_id = ? AND annotator = ?", [record_id, annotator]).fetchall()
            con.execute("DELETE FROM skips WHERE record_id = ? AND annotator = ?", [record_id, annotator]).fetchall()
            con.execute("INSERT INTO skips VALUES (?, ?, ?, ?)", [record_id, dataset_id, annotator, now]).fetchall()

        self._commit.run(write)

    def release_all_leases(self, annotator: str) -> None:
        with self._lock:
            for state in self._assignments.values():
                state.release_all(annotator)
        self._commit.run(lambda con: con.execute("DELETE FROM leases WHERE annotator = ?", [annotator]).fetchall())

    def find_record(self, dataset: str, external_id: str) -> int | None:
        """The record id of the dataset's record with that external id, if any."""
        with self._lock:
            return review_queries.find_record(self.connection, self._dataset_id(dataset), external_id)

    def external_ids(self, record_ids: Sequence[int]) -> dict[int, str]:
        with self._lock:
            return review_queries.external_ids(self.connection, [int(i) for i in record_ids])

    def submission_counts(self, record_ids: Sequence[int]) -> list[int]:
        """Submitted answers per record (from memory), in the order asked."""
        with self._lock:
            out = []
            for record_id in record_ids:
                state, _ = self._assignment_of_record(int(record_id))
                out.append(state.submissions(int(record_id)))
            return out
