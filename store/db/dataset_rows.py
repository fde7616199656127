"""The one place a dataset row is written: the store's `create_dataset` and the importer both use it."""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime

import duckdb

from store.db.connection import first_row
from store.errors import InvalidInputError


def check_dataset_name(name: str) -> None:
    """A dataset name is one line of visible text: no control characters (NUL included), which
    would cut it short or move the cursor wherever it is printed."""
    if not name.strip():
        raise InvalidInputError("a dataset needs a name")
    for char in name:
        if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp"):
            raise InvalidInputError(
                f"the dataset name {name!r} holds the control character U+{ord(char):04X}; "
                "a name is letters, digits, spaces and punctuation"
            )


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
