"""The embedded store's datasets: create, change, rename, archive, delete and list them."""

from __future__ import annotations

import json

from store.clock import utcnow
from store.dataset_names import check_dataset_name
from store.dataset_settings import check_settings
from store.db.base import StoreBase
from store.db.connection import first_row
from store.db.dataset_rows import insert_dataset
from store.db.transactions import transaction
from store.errors import InvalidInputError
from store.names import TASK_KINDS
from store.types import (
    Dataset,
    DatasetContents,
    DatasetSummary,
)


class DatasetQueries(StoreBase):
    def get_dataset(self, name: str) -> Dataset:
        with self._lock:
            _, name, task, guidelines, k, settings, created = self._dataset_row(name)
        return Dataset(name, task, guidelines, k, json.loads(settings or "{}"), created)

    def create_dataset(
        self,
        name: str,
        task: str,
        guidelines: str = "",
        annotators_per_record: int = 1,
        settings: dict | None = None,
    ) -> Dataset:
        if task not in TASK_KINDS:
            raise InvalidInputError(f"task must be one of {', '.join(TASK_KINDS)}, not {task!r}")
        if annotators_per_record < 1:
            raise InvalidInputError("annotators per record must be at least 1")
        check_dataset_name(name)
        settings = check_settings(settings or {})
        with self._import_lock, self._lock:  # never during an import
            if self._q("SELECT 1 FROM datasets WHERE name = ?", [name]).fetchall():
                raise InvalidInputError(f"a dataset named {name!r} already exists")
            insert_dataset(self.connection, name, task, guidelines, annotators_per_record, settings, utcnow())
        return self.get_dataset(name)

    def update_dataset(
        self,
        name: str,
        guidelines: str | None = None,
        annotators_per_record: int | None = None,
        settings: dict | None = None,
    ) -> Dataset:
        """Change a dataset's guidelines, K, or settings (merged into the current ones)."""
        with self._import_lock, self._lock:  # never during an import
            dataset_id, _, _, _, _, current, _ = self._dataset_row(name)
            self._forget(name)
            if settings is not None:
                merged = check_settings({**json.loads(current or "{}"), **settings})
                self._q("UPDATE datasets SET settings = ? WHERE id = ?", [json.dumps(merged), dataset_id])
            if guidelines is not None:
                self._q("UPDATE datasets SET guidelines = ? WHERE id = ?", [guidelines, dataset_id])
            if annotators_per_record is not None:
                if annotators_per_record < 1:
                    raise InvalidInputError("annotators per record must be at least 1")
                self._q(
                    "UPDATE datasets SET annotators_per_record = ? WHERE id = ?",
                    [annotators_per_record, dataset_id],
                )
        return self.get_dataset(name)

    def rename_dataset(self, name: str, new_name: str) -> Dataset:
        """Give a dataset another name; its records, answers and settings stay as they are."""
        check_dataset_name(new_name)
        with self._import_lock, self._lock:  # never during an import
            dataset_id = self._dataset_id(name)
            if new_name != name and self._q("SELECT 1 FROM datasets WHERE name = ?", [new_name]).fetchall():
                raise InvalidInputError(f"a dataset named {new_name!r} already exists")
            self._forget(name)
            self._q("UPDATE datasets SET name = ? WHERE id = ?", [new_name, dataset_id])
        return self.get_dataset(new_name)

    def archive_dataset(self, name: str, archived: bool = True) -> Dataset:
        """Hide a dataset from the pickers and the list (archived) or show it again; nothing is removed."""
        return self.update_dataset(name, settings={"archived": archived})

    def dataset_contents(self, name: str) -> DatasetContents:
        """What deleting the dataset would remove."""
        with self._lock:
            dataset_id = self._dataset_id(name)
            row = first_row(
                self._q(
                    """
                    SELECT
                        (SELECT count(*) FROM records WHERE dataset_id = $d),
                        (SELECT count(*) FROM candidates c JOIN records r ON r.id = c.record_id
                         WHERE r.dataset_id = $d),
                        (SELECT count(*) FROM annotations WHERE dataset_id = $d),
                        (SELECT count(DISTINCT annotator) FROM annotations WHERE dataset_id = $d),
                        (SELECT count(*) FROM reviews WHERE dataset_id = $d),
                        (SELECT count(*) FROM candidate_scores s JOIN records r ON r.id = s.record_id
                         WHERE r.dataset_id = $d)
                    """,
                    {"d": dataset_id},
                )
            )
        assert row is not None
        return DatasetContents(name, *(int(v) for v in row))

    def delete_dataset(self, name: str, with_answers: bool = False) -> DatasetContents:
        """Remove a dataset and everything in it; one holding answers only `with_answers`.
        Returns what was removed."""
        with self._import_lock, self._lock:  # never during an import
            contents = self.dataset_contents(name)
            if contents.answers and not with_answers:
                raise InvalidInputError(
                    f"dataset {name!r} holds {contents.answers:,} answers by {contents.annotators:,} annotators; "
                    "deleting it deletes them too, so it must be asked for twice (or archive it: nothing is lost)"
                )
            dataset_id = self._dataset_id(name)
            self._forget(name)
            self._record_cache.clear()  # ids of deleted records may be handed out again
            with transaction(self._live()):
                for table in ("leases", "candidates", "candidate_scores"):
                    self._q(
                        f"DELETE FROM {table} WHERE record_id IN (SELECT id FROM records WHERE dataset_id = ?)",
                        [dataset_id],
                    )
                for table in ("annotation_history", "annotations", "skips", "review_history", "reviews", "records"):
                    self._q(f"DELETE FROM {table} WHERE dataset_id = ?", [dataset_id])
                self._q("DELETE FROM datasets WHERE id = ?", [dataset_id])
        return contents

    def list_datasets(self, include_archived: bool = False) -> list[DatasetSummary]:
        """Every dataset with its progress; archived ones only with `include_archived`."""
        with self._lock:
            rows = self._q(
                """
                WITH subs AS (
                    SELECT record_id, count(*) AS n FROM annotations
                    WHERE status = 'submitted' GROUP BY record_id
                )
                SELECT d.name, d.task, d.annotators_per_record,
                       count(r.id) AS records,
                       coalesce(sum(s.n), 0) AS submissions,
                       count(r.id) FILTER (WHERE s.n >= d.annotators_per_record) AS complete,
                       coalesce(json_extract(d.settings, '$.archived')::BOOLEAN, false) AS archived
                FROM datasets d
                LEFT JOIN records r ON r.dataset_id = d.id
                LEFT JOIN subs s ON s.record_id = r.id
                GROUP BY d.id, d.name, d.task, d.annotators_per_record, d.settings
                ORDER BY d.name
                """
            ).fetchall()
        return [
            DatasetSummary(n, t, k, int(rc), int(sc), int(c), bool(a))
            for n, t, k, rc, sc, c, a in rows
            if include_archived or not a
        ]
