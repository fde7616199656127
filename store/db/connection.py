"""Opening the DuckDB file, with the lock error turned into one readable line."""

from __future__ import annotations

import re
from contextlib import suppress
from pathlib import Path
from typing import Any

import duckdb

from store.errors import StoreError, StoreLockedError

_HOLDER = re.compile(
    r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)(?: by user (?P<user>\S+?))?\.?(?:\s|$)"
)


def user_of_process(pid: int) -> str:
    """The name of the user a live process runs as (its effective uid), or '' if it cannot be seen."""
    try:
        import pwd  # POSIX only

        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8", errors="replace")
    except (ImportError, OSError):
        return ""
    uids = re.search(r"^Uid:\s+\d+\s+(\d+)", status, re.MULTILINE)
    if not uids:
        return ""
    with suppress(KeyError):
        return pwd.getpwuid(int(uids[1])).pw_name
    return f"uid {uids[1]}"


def is_store_service(pid: int) -> bool:
    """Whether process `pid` is an `rlhf-tui serve` (by its command line)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    names = [Path(a.decode(errors="replace")).name for a in argv]
    runs_us = any(n in ("rlhf-tui", "rlhf_tui.cli") for n in names)
    return runs_us and b"serve" in argv


def served_elsewhere(path: Path, pid: int) -> str:
    """What to do when the store is held by its own service: use it, or stop it first."""
    from store.location import read_marker

    marker = read_marker(path)
    where = f" on {marker.socket}" if marker is not None else ""
    return (
        f"{path} is already served by `rlhf-tui serve` (PID {pid}){where}: use that service "
        f"(--store {marker.socket if marker is not None else 'SOCKET'}), or stop it first "
        f"(`systemctl stop rlhf-tui`, or `kill {pid}`) to serve the store another way"
    )


def describe_lock_holder(message: str) -> str:
    """'PID 123 (user ann, /usr/bin/python3)' from DuckDB's lock message, or '' when absent.
    DuckDB 2 no longer names the user; then it is looked up from the PID."""
    match = _HOLDER.search(message)
    if not match:
        return ""
    user = match["user"] or user_of_process(int(match["pid"]))
    parts = [p for p in (f"user {user}" if user else "", match["program"]) if p]
    return f"PID {match['pid']} ({', '.join(parts)})"


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    try:
        if path.parent and not path.parent.exists() and not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        con = duckdb.connect(str(path), read_only=read_only)
        if created and path.exists():
            path.chmod(0o600)  # everyone's answers: private from the start, whatever the umask
        # DuckDB's progress bar writes to the terminal: it would scribble over the TUI.
        con.execute("SET enable_progress_bar = false").fetchall()
        return con
    except duckdb.IOException as exc:
        message = str(exc)
        if "lock" in message.lower():
            holder = describe_lock_holder(message) or "another process"
            match = _HOLDER.search(message)
            if match and is_store_service(int(match["pid"])):
                raise StoreLockedError(served_elsewhere(path, int(match["pid"]))) from None
            raise StoreLockedError(
                f"{path} is in use by {holder}; close it there, or start `rlhf-tui serve --store {path}` "
                "so several annotators can share it."
            ) from None
        raise StoreError(f"cannot open {path}: {message.splitlines()[0]}") from None
    except duckdb.Error as exc:
        raise StoreError(f"cannot open {path}: {str(exc).splitlines()[0]}") from None


def first_row(cursor: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    """The first row of a result or None. Fetches everything: a half-read result
    (fetchone) blocks later relational queries on the connection in DuckDB 2."""
    rows = cursor.fetchall()
    return rows[0] if rows else None
