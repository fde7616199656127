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
from store.service.client import ServiceClient, ServiceUnavailableError

if TYPE_CHECKING:  # duckdb loads only where a file is opened in-process: an annotator on the socket never needs it
    from store.embedded import DuckDBStore


def _owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


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
    refuse_socket_as_store(store_path)
    try:
        marker = read_marker(store_path)
        exists = store_path.exists()
        owner = store_path.stat().st_uid if exists else os.geteuid()
    except PermissionError:
        raise PermissionDeniedError(
            f"cannot reach {store_path}: permission denied. A team store is used through its service: "
            f"give --store the service's socket (ask an admin for its path)"
        ) from None
    socket_path = Path(marker.socket) if marker else default_socket_path(store_path)
    if marker is not None or is_socket(socket_path):
        try:
            return ServiceClient(socket_path, reconnect_timeout=reconnect_timeout)
        except ServiceUnavailableError as exc:
            raise ServiceUnavailableError(
                f"{store_path} is served by `rlhf-tui serve`, but its service at {socket_path} is not answering "
                f"({exc.reason}); start it again (or, as its owner, delete {marker_path(store_path)} to use the "
                "file directly)"
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
