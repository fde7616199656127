"""The preference store: its interface and the plain values that cross it.

The parts: `db` (the embedded DuckDB database), `embedded` (the store on it), `io` (import and export),
`service` (the team server and its client), `stats` (pure agreement statistics); `connect` opens a store
for a command. Never imports textual or any training library (import-linter contracts in pyproject.toml).

Importing `store` costs nothing: the names below load their module on first use, so the CLI can build
its options from `store.names` without paying for the dataclasses, duckdb or pyarrow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from store.api import PreferenceStore
    from store.errors import (
        InvalidInputError,
        PermissionDeniedError,
        SchemaTooNewError,
        StoreError,
        StoreLockedError,
        UnknownDatasetError,
        UserError,
    )
    from store.location import STORE_ENV_VAR, resolve_store_path
    from store.ordering import shown_order
    from store.types import (
        Annotation,
        AnnotationInput,
        AnnotatorProgress,
        Candidate,
        ChatMessage,
        Dataset,
        DatasetSummary,
        ExportOptions,
        ImportReport,
        Record,
        StatusCount,
    )

# Each public name and the module that defines it.
_HOME = {
    "PreferenceStore": "store.api",
    **dict.fromkeys(
        (
            "InvalidInputError",
            "PermissionDeniedError",
            "SchemaTooNewError",
            "StoreError",
            "StoreLockedError",
            "UnknownDatasetError",
            "UserError",
        ),
        "store.errors",
    ),
    "STORE_ENV_VAR": "store.location",
    "resolve_store_path": "store.location",
    "shown_order": "store.ordering",
    **dict.fromkeys(
        (
            "Annotation",
            "AnnotationInput",
            "AnnotatorProgress",
            "Candidate",
            "ChatMessage",
            "Dataset",
            "DatasetSummary",
            "ExportOptions",
            "ImportReport",
            "Record",
            "StatusCount",
        ),
        "store.types",
    ),
}

__all__ = [
    "STORE_ENV_VAR",
    "Annotation",
    "AnnotationInput",
    "AnnotatorProgress",
    "Candidate",
    "ChatMessage",
    "Dataset",
    "DatasetSummary",
    "ExportOptions",
    "ImportReport",
    "InvalidInputError",
    "PermissionDeniedError",
    "PreferenceStore",
    "Record",
    "SchemaTooNewError",
    "StatusCount",
    "StoreError",
    "StoreLockedError",
    "UnknownDatasetError",
    "UserError",
    "resolve_store_path",
    "shown_order",
]
assert sorted(__all__) == sorted(_HOME)


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'store' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once loaded, a plain module attribute
    return value
