"""The one place a dataset row is written: the store's `create_dataset` and the importer both use it."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb

from store.dataset_names import check_dataset_name
from store.db.connection import first_row


def insert_dataset(
    con: duckdb.DuckDBPyConnection,
    name: str,
    task: str,
    guidelines: str,
    annotators_per_record: int,
    settings: dict | None,
    now: datetime,
) -> int:
    """Insert a dataset (the caller has checked that the name is free) and return its id."""
    check_dataset_name(name)
    row = first_row(
        con.execute(
            "INSERT INTO datasets (name, task, guidelines, annotators_per_record, settings, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            [name, task, guidelines, annotators_per_record, json.dumps(settings or {}), now],
        )
    )
    assert row is not None  # RETURNING always yields the inserted row
    return int(row[0])
