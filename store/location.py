"""Where the store lives: --store PATH, else $RLHF_TUI_STORE, else ./rlhf.duckdb.

PATH is a DuckDB file or the Unix socket of the `rlhf-tui serve` that owns one. A served
store has a marker file beside it (STORE.service, JSON) naming its socket, so that no
client falls back to opening the file while its service is down."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from store.errors import InvalidInputError

STORE_ENV_VAR = "RLHF_TUI_STORE"
DEFAULT_STORE_FILE = "rlhf.duckdb"
SOCKET_SUFFIX = ".sock"
MARKER_SUFFIX = ".service"


def resolve_store_path(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(STORE_ENV_VAR)
    if from_env:
        return Path(from_env)
    return Path(DEFAULT_STORE_FILE)


def is_socket(path: Path) -> bool:
    """Whether `path` is a Unix socket (or a link to one)."""
    try:
        return stat.S_ISSOCK(path.stat().st_mode)
    except OSError:
        return False


def refuse_socket_as_store(path: Path) -> None:
    """A path that is a service's socket, or is named like one (`.sock`, as every socket `serve`
    makes is), is never opened as a store file: while the service is down, DuckDB would create
    a store there that the next `serve` would find in its socket's place."""
    if is_socket(path):
        raise InvalidInputError(
            f"{path} is a store service's socket, not a store file, and no service answers on it: "
            "start `rlhf-tui serve` (or ask an admin to)"
        )
    if not path.name.endswith(SOCKET_SUFFIX):
        return
    if path.exists():
        raise InvalidInputError(
            f"{path} is named like a store service's socket (.sock) but is a file; a store is never opened "
            f"there: if it is a store made by mistake, move it to a name without .sock"
        )
    raise InvalidInputError(
        f"{path} is named like a store service's socket (.sock) and no service is listening there: start "
        "`rlhf-tui serve` (or ask an admin to); a store file is never created at a socket's path"
    )


def default_socket_path(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + SOCKET_SUFFIX)


def marker_path(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + MARKER_SUFFIX)


def wal_path(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + ".wal")


@dataclass(frozen=True)
class ServiceMarker:
    """What `serve` records beside the store: how to reach it, and who it lets in."""

    socket: str
    group: int | None
    admins: tuple[str, ...]

    def write(self, store_path: Path) -> None:
        """Written to a fresh private temporary file (never through a link) and renamed into place."""
        import tempfile

        path = marker_path(store_path)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(json.dumps({"socket": self.socket, "group": self.group, "admins": list(self.admins)}))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def read_marker(store_path: Path) -> ServiceMarker | None:
    """The store's service marker, or None when the store is not configured for a service."""
    try:
        data = json.loads(marker_path(store_path).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError):
        return ServiceMarker(str(default_socket_path(store_path)), None, ())
    group = data.get("group")
    return ServiceMarker(
        str(data.get("socket") or default_socket_path(store_path)),
        int(group) if isinstance(group, int) else None,
        tuple(str(a) for a in data.get("admins", ()) if isinstance(a, str)),
    )
