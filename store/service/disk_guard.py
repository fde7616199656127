"""Refusing writes while the store's disk is nearly full, before DuckDB gets there.

A DuckDB checkpoint that fails for lack of space invalidates the database for the rest of
the process. So the service keeps a margin: while a folder it writes (the store's, the
spool's) has less free space than MIN_FREE_BYTES plus the size of the write-ahead log (a
checkpoint copies it into the store file), every operation that may write is refused with
one line that says so; reading, releasing records and deleting datasets still work. The
free-space probe is injectable, so tests need no real full disk."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

from store.errors import StoreError

MIN_FREE_BYTES = 256 << 20

FreeSpace = Callable[[Path], int]

# Operations that only read, or give space back: they run on a nearly full disk. Any other
# operation (including one added later) may write, and is refused there.
RUN_ON_A_FULL_DISK = frozenset(
    {
        "active_leases",
        "annotation_history",
        "answered_record_ids",
        "dataset_contents",  # what `datasets delete` shows before it gives the space back
        "delete_dataset",
        "export_rows",
        "external_ids",
        "find_record",
        "get_annotation",
        "get_dataset",
        "get_records",
        "get_review",
        "list_datasets",
        "overfilled_records",
        "progress",
        "record_answers",
        "record_ids",
        "release_all_leases",
        "release_lease",
        "release_leases_of",
        "review_history",
        "review_queue",
        "reviews",
        "scores",
        "status_counts",
        "submission_counts",
        "submitted_rankings",
        "submitted_ratings",
        "team_activity",
        "transfer_close",
        "transfer_read",
    }
)


class DiskFullError(StoreError):
    """The store's disk is too full to write safely; nothing was written."""


def free_bytes(folder: Path) -> int:
    """Bytes an unprivileged process may still write in `folder`'s file system."""
    return shutil.disk_usage(folder).free


def _size(path: Path | None) -> int:
    try:
        return path.stat().st_size if path is not None else 0
    except OSError:
        return 0


class DiskGuard:
    """Checks, before each operation that may write, that every folder the service writes has
    room: MIN_FREE_BYTES plus the folder's growing file (the WAL), when it has one."""

    def __init__(
        self,
        folders: Mapping[Path, Path | None],
        free_space: FreeSpace = free_bytes,
        margin: int = MIN_FREE_BYTES,
    ):
        self.folders = dict(folders)  # folder → the file in it that a checkpoint copies (or None)
        self.free_space = free_space
        self.margin = margin

    def check(self, operation: str, writes: int = 0) -> None:
        """Refuse `operation` unless it only reads, or every folder has room for the margin and
        `writes` more bytes (what the operation is known to add, such as an imported file)."""
        if operation in RUN_ON_A_FULL_DISK:
            return
        for folder, growing in self.folders.items():
            try:
                free = self.free_space(folder)
            except OSError:
                continue  # a folder that cannot be measured is not a reason to refuse
            needed = self.margin + _size(growing) + writes
            if free < needed:
                raise DiskFullError(
                    f"the store service's disk is nearly full ({free >> 20} MiB free; it keeps {needed >> 20} MiB "
                    "free so that the store stays whole): nothing was saved; ask an admin to free space, then try again"
                )
