"""The preference store: its interface and the plain values that cross it.

Importing `store` is cheap (no duckdb, no pyarrow): the CLI builds its options from it. The parts:
`db` (the embedded DuckDB store), `io` (import and export), `service` (the team server and its
client), `stats` (pure agreement statistics); `connect` opens a store for a command.
Never imports textual or any training library (import-linter contracts in pyproject.toml).
"""

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
    ImportReport,
    Record,
    StatusCount,
)

__all__ = [
    "STORE_ENV_VAR",
    "Annotation",
    "AnnotationInput",
    "AnnotatorProgress",
    "Candidate",
    "ChatMessage",
    "Dataset",
    "DatasetSummary",
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
