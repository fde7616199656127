"""Opening the store for a command: through its service when it has one, else the file.

The rules of the trust model: a client never opens a store file it does not own, and never
falls back to the file when the store's service is configured but does not answer."""

from __future__ import annotations

import os
import pwd
from pathlib import Path
from typing import TYPE_CHECKING

from store.api import PreferenceStore
from store.errors import PermissionDeniedError, StoreError
from store.location import (
    default_socket_path,
    is_socket,
    marker_path,
    read_marker,
    refuse_socket_as_store,
    resolve_store_path,
)
from store.service.client import ServiceClient, ServiceUnavailableError, service_down

if TYPE_CHECKING:  # duckdb loads only where a file is opened in-process: an annotator on the socket never needs it
    from store.embedded import DuckDBStore


def _owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _closed_folder_hint(path: Path) -> str:
    """Who may enter the nearest folder on `path` that we cannot: the group to join, or ""."""
    import grp

    for folder in path.absolute().parents:
        try:
            info = folder.stat()
        except OSError:
            continue
        if os.access(folder, os.X_OK):
            return ""
        if not info.st_mode & 0o010:
            return ""
        try:
            group = grp.getgrgid(info.st_gid).gr_name
        except KeyError:
            group = f"gid {info.st_gid}"
        me = _owner_name(os.geteuid())
        return (
            f"only members of group {group} may enter {folder}: ask an admin to run `usermod -aG {group} {me}`, "
            "then log in again"
        )
    return ""


def open_store(path: str | os.PathLike | None = None, **kwargs: int) -> DuckDBStore:
    """The store file opened in this process (see `connect_store` for the service-aware way)."""
    from store.embedded import DuckDBStore

    store_path = resolve_store_path(path)
    refuse_socket_as_store(store_path)
    return DuckDBStore(store_path, **kwargs)


def connect_store(path: str | os.PathLike | None = None, reconnect_timeout: float | None = 60.0) -> PreferenceStore:
    """The store named by --store / $RLHF_TUI_STORE: a service socket, a served store's file
    (reached through its service), or a file of one's own opened in-process."""
    store_path = resolve_store_path(path)
    if is_socket(store_path):
        return ServiceClient(store_path, reconnect_timeout=reconnect_timeout)
    try:
        refuse_socket_as_store(store_path)  # looks at the path: a folder we may not enter refuses that too
        marker = read_marker(store_path)
        exists = store_path.exists()
        owner = store_path.stat().st_uid if exists else os.geteuid()
    except PermissionError:
        raise PermissionDeniedError(
            f"cannot reach {store_path}: permission denied; "
            + (
                _closed_folder_hint(store_path)
                or "a team store is used through its service: give --store the service's socket (ask an admin for its path)"
            )
        ) from None
    socket_path = Path(marker.socket) if marker else default_socket_path(store_path)
    if marker is not None or is_socket(socket_path):
        try:
            return ServiceClient(socket_path, reconnect_timeout=reconnect_timeout)
        except ServiceUnavailableError as exc:
            raise service_down(
                socket_path,
                exc.reason,
                f"{store_path}'s owner may instead delete {marker_path(store_path)} to use the file directly",
            ) from None
    if exists and owner != os.geteuid():
        raise PermissionDeniedError(
            f"{store_path} belongs to {_owner_name(owner)}; only its owner opens the file. Others use it "
            f"through `rlhf-tui serve` run by {_owner_name(owner)} (--store SOCKET)"
        )
    from store.embedded import DuckDBStore

    try:
        return DuckDBStore(store_path)
    except PermissionError:
        raise StoreError(f"cannot open {store_path}: permission denied") from None
