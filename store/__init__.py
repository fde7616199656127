"""The preference store: DuckDB schema, import, export, assignment and statistics.

Never imports textual or any training library (checked by tests/test_import_contract.py).
"""

from .api import PreferenceStore
from .duckdb_store import DuckDBStore, connect_store, open_store
from .errors import (
    InvalidInputError,
    PermissionDeniedError,
    SchemaTooNewError,
    StoreError,
    StoreLockedError,
    UnknownDatasetError,
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
    "PreferenceStore", "DuckDBStore", "connect_store", "open_store", "InvalidInputError", "PermissionDeniedError",
    "SchemaTooNewError", "StoreError", "StoreLockedError", "UnknownDatasetError", "STORE_ENV_VAR",
    "resolve_store_path", "shown_order", "Annotation", "AnnotationInput", "AnnotatorProgress", "Candidate",
    "ChatMessage", "Dataset", "DatasetSummary", "ImportReport", "Record", "StatusCount",
]
