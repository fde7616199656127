"""The preference store: DuckDB schema, import, export, assignment and statistics.

Never imports textual or any training library (checked by tests/test_import_contract.py).
"""

from .api import PreferenceStore
from .connect import connect_store, open_store
from .duckdb_store import DuckDBStore
from .errors import (
    InvalidInputError,
    PermissionDeniedError,
    SchemaTooNewError,
    StoreError,
    StoreLockedError,
    UnknownDatasetError,
    UserError,
)
from .location import STORE_ENV_VAR, resolve_store_path
from .ordering import shown_order
from .types import (
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
    "DuckDBStore",
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
    "connect_store",
    "open_store",
    "resolve_store_path",
    "shown_order",
]
