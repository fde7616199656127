"""`rlhf-tui serve`: one process owns the DuckDB file and serves the operations of
`store.service.operations` over a Unix domain socket to every annotator on the machine.

The trust model is PostgreSQL's, in miniature:
- who is calling comes from the kernel (SO_PEERCRED), never from the request;
- the store file, its WAL and temporary files belong to the service user alone (umask 077
  for the service's whole life); only the socket is reachable by the group;
- every request is checked against the protocol's table (types, bounds, roles);
- files cross the socket as streams: the service never opens a path a client names;
- one selector thread does all socket I/O and a small worker pool runs the store calls,
  so idle or slow clients cost a few bytes each and cannot hold up anyone else."""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import errno
import json
import os
import queue
import resource
import selectors
import shutil
import socket
import stat
import struct
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from store.embedded import DuckDBStore
from store.errors import InvalidInputError, PermissionDeniedError, StoreError
from store.location import ServiceMarker, default_socket_path, wal_path
from store.service import operations as protocol
from store.service import wire
from store.service.checks import (
    group_label,
    is_group_member,
    resolve_group,
    serve_problems,
    socket_folder_problems,
    socket_in_use,
    store_problems,
    user_name,
)
from store.service.disk_guard import DiskGuard, FreeSpace, free_bytes
from store.service.limits import SlidingWindowLimit
from store.types import AnnotationInput, ExportOptions, Record, ReviewInput

MAX_CONNECTIONS = 512  # in all; each costs a file descriptor and a few kB
MAX_CONNECTIONS_PER_USER = 32
WORKERS = 8  # store calls running at once
MAX_RUNNING_PER_USER = 2  # so one user's requests never take every worker
DEFAULT_IDLE_SECONDS = 600.0  # longer than the app's lease renewal interval
MAX_UPLOAD_BYTES = 4 << 30
# What one admin's uploads and exports under way may hold in the spool, all connections together.
MAX_SPOOL_BYTES_PER_USER = 4 << 30
MAX_TRANSFERS_PER_CONNECTION = 2  # exports not yet closed
# An upload that gets no chunk for this long, or is not finished within the second, is dropped.
UPLOAD_IDLE_SECONDS = 60.0
UPLOAD_MAX_SECONDS = 3600.0
SPOOL_PREFIX = "rlhf-tui-serve-"
# A reply is written out before the connection's next request is read; one that is not taken
# up within this time (a client that never reads) closes the connection.
WRITE_TIMEOUT_SECONDS = 30.0
# Reply bytes waiting to be read by all connections of one user: while over this, none of that
# user's connections is given another request to run (each reply may be up to 64 MiB, and a
# user has 32 connections: per connection, that would be 2 GiB).
MAX_PENDING_REPLY_BYTES_PER_USER = 64 << 20
TRANSFER_CHUNK = 1 << 20
STOPPING = (
    "the store service is stopping: its database was invalidated (its log says why); "
    "it will be restarted, try again shortly"
)
# Amendments of existing answers per annotator per minute: a person amends a few; a loop that
# amends one answer hundreds of times a second grows the store for nothing.
MAX_AMENDMENTS_PER_MINUTE = 120

__all__ = ["StoreService", "default_socket_path", "serve", "socket_in_use", "store_problems"]


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end, from the kernel (SO_PEERCRED)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", creds)
    return int(pid), int(uid), int(gid)


def peer_uid(sock: socket.socket) -> int:
    return peer_credentials(sock)[1]


def is_fatal(exc: BaseException) -> bool:
    """Whether DuckDB has invalidated the database (after a failed checkpoint, e.g. on a full
    disk): every later call fails too, until the process opens the file again."""
    return isinstance(exc, duckdb.FatalException) or "database has been invalidated" in str(exc)


# -- per-connection state ----------------------------------------------------------
@dataclass
class ConnectionState:
    """What the service knows of one client connection (used from worker threads)."""

    user: str
    is_admin: bool
    leased: set[int] = field(default_factory=set)
    uploads: dict[str, tuple[Path, int]] = field(default_factory=dict)  # id → (temp file, bytes so far)
    transfers: dict[str, Path] = field(default_factory=dict)  # export id → temp file
    upload_started: float = 0.0  # the upload under way (at most one): when it began and last grew
    upload_last: float = 0.0
    expired_upload: str = ""  # the last upload dropped for stalling, to say so when it goes on


class StoreService:
    """Runs one validated operation for one connection against the one DuckDBStore."""

    def __init__(
        self,
        store: DuckDBStore,
        admins: set[str],
        spool: Path,
        gid: int | None = None,
        disk_guard: DiskGuard | None = None,
    ):
        self.store = store
        self.admins = admins | {user_name(os.geteuid())}
        self.spool = spool  # the service's private folder for uploads and exports
        self.gid = gid  # with --group, only its members (and the service's user) may connect
        self.disk_guard = disk_guard
        # Why the service must stop (the database was invalidated); the loop stops once that reply is out.
        self.fatal: str | None = None
        # Operations that need the connection are methods here; the rest go to the store as they are.
        self._own = {name for name in protocol.OPERATIONS if hasattr(self, "_op_" + name)}
        # Every open connection by user: a lease is released on disconnect only when no other
        # connection of the same user holds that record too.
        self._live: dict[str, list[ConnectionState]] = {}
        self._live_lock = threading.Lock()
        self.amendments = SlidingWindowLimit(MAX_AMENDMENTS_PER_MINUTE, 60.0, "amendments of their answers")
        self.clock: Callable[[], float] = time.monotonic

    def connected(self, conn: ConnectionState) -> None:
        with self._live_lock:
            self._live.setdefault(conn.user, []).append(conn)

    def refusal(self, uid: int, peer_gid: int, pid: int) -> str:
        """Why a connecting user may not use the service ("" when they may): with --group, the
        socket's mode is not the only gate (an ACL can open it wider); membership is checked."""
        if self.gid is None or uid in (os.geteuid(), 0) or is_group_member(uid, peer_gid, pid, self.gid):
            return ""
        group = group_label(self.gid)
        name = user_name(uid)
        return (
            f"{name} is not a member of group {group}, whose members may use this store service; "
            f"ask an admin to run `usermod -aG {group} {name}`"
        )

    def fail(self, exc: BaseException) -> str:
        """The database was invalidated: stop at once, naming the cause, so that a supervisor
        (systemd's Restart=on-failure) starts a fresh process, which opens the file again."""
        if self.fatal is None:
            lines = str(exc).splitlines() or [""]
            # DuckDB names the first failure (e.g. "No space left on device") on an "Original error" line.
            cause = " ".join([lines[0], *(line for line in lines[1:] if line.startswith("Original error"))])
            self.fatal = f"the store's database was invalidated ({type(exc).__name__}: {cause})"
            traceback.print_exception(exc, file=sys.stderr)
        return self.fatal

    def hello(self, conn: ConnectionState) -> dict:
        return {"user": conn.user, "admin": conn.is_admin, "protocol": protocol.PROTOCOL_VERSION}

    def call(self, conn: ConnectionState, op_name: object, raw_params: object) -> object:
        op = protocol.lookup(op_name)
        if op.admin and not conn.is_admin:
            what = protocol.ADMIN_WHAT.get(op.name, op.name.replace("_", " "))
            raise PermissionDeniedError(
                f"{what} is for admins, and {conn.user} is not one; ask the service's "
                "owner to add you with `rlhf-tui serve --admin USER`"
            )
        if self.fatal is not None:
            raise StoreError(STOPPING)
        params = protocol.parse_params(op, raw_params)
        if self.disk_guard is not None:
            # An import writes about as much as the file it reads: that much more must be free.
            upload = conn.uploads.get(params["transfer"]) if op.name == "import_upload" else None
            self.disk_guard.check(op.name, upload[1] if upload else 0)
        if op.acts_for_caller and params["annotator"] != conn.user:
            raise PermissionDeniedError(
                f"you are connected as {conn.user}; you cannot act as {params['annotator']} "
                "(the service takes your name from the operating system)"
            )
        if op.name in self._own:
            return getattr(self, "_op_" + op.name)(conn, **params)
        return getattr(self.store, op.name)(**params)

    # -- records and answers: the annotator's name is the caller's --------------------
    def _op_next_records(self, conn: ConnectionState, dataset: str, annotator: str, limit: int, exclude: tuple) -> list:
        records = self.store.next_records(dataset, conn.user, limit, exclude)
        conn.leased.update(r.id for r in records)
        return self._as_seen_by(conn, records)

    def _op_get_records(self, conn: ConnectionState, record_ids: tuple[int, ...]) -> list:
        records = self.store.get_records(record_ids)
        texts = [c.text for r in records for c in r.candidates] + [str(r.prompt) for r in records]
        sources = sum(len(c.source or "") for r in records for c in r.candidates)
        # A character is at most 4 bytes in UTF-8: only records that might reach the limit are measured exactly
        # (this is the app's hot path, and the reply is encoded again anyway).
        if 4 * sum(map(len, texts)) + sources <= protocol.MAX_REPLY_BYTES:
            return self._as_seen_by(conn, records)
        size = sum(len(t.encode("utf-8")) for t in texts) + sources
        if size > protocol.MAX_REPLY_BYTES:  # refused before the reply is built, not after
            raise InvalidInputError(
                f"those records hold {size >> 20} MiB of text, over the reply limit of "
                f"{protocol.MAX_REPLY_BYTES >> 20} MiB; ask for fewer at a time"
            )
        return self._as_seen_by(conn, records)

    @staticmethod
    def _as_seen_by(conn: ConnectionState, records: list[Record]) -> list[Record]:
        """Annotators do not learn who wrote a promoted written answer (blind annotation)."""
        if conn.is_admin:
            return records
        out = []
        for record in records:
            if any((c.source or "").startswith("written:") for c in record.candidates):
                hidden = tuple(
                    dataclasses.replace(c, source="written") if (c.source or "").startswith("written:") else c
                    for c in record.candidates
                )
                record = dataclasses.replace(record, candidates=hidden)
            out.append(record)
        return out

    def _op_renew_lease(self, conn: ConnectionState, record_id: int, annotator: str) -> None:
        # Only a lease the caller holds (the store refuses others); renewed here, it is this
        # connection's too, and ends with it.
        self.store.renew_lease(record_id, conn.user)
        conn.leased.add(record_id)

    def _op_release_lease(self, conn: ConnectionState, record_id: int, annotator: str) -> None:
        self.store.release_lease(record_id, conn.user)
        conn.leased.discard(record_id)

    def _op_find_record(self, conn: ConnectionState, dataset: str, external_id: str) -> int | None:
        record_id = self.store.find_record(dataset, external_id)
        if record_id is None or conn.is_admin or self.store.get_annotation(record_id, conn.user) is not None:
            return record_id
        return None  # annotators jump only to records they answered

    def _op_save_review(self, conn: ConnectionState, **fields: Any) -> object:
        return self.store.save_review(ReviewInput(reviewer=conn.user, **fields))

    def _op_skip_record(self, conn: ConnectionState, record_id: int, annotator: str) -> None:
        self.store.skip_record(record_id, conn.user)
        conn.leased.discard(record_id)

    def _op_release_all_leases(self, conn: ConnectionState, annotator: str) -> None:
        self.store.release_all_leases(conn.user)
        conn.leased.clear()

    def _op_save_annotation(self, conn: ConnectionState, **fields: Any) -> object:
        fields["annotator"] = conn.user
        answer = AnnotationInput(**fields)
        saved = self.store.save_handed_annotation(answer, before_amending=self.amendments.take)
        if answer.status != "draft":
            conn.leased.discard(answer.record_id)
        return saved

    # -- import: the client streams the file; the service reads only its own copy -----
    def _op_upload_begin(self, conn: ConnectionState, suffix: str) -> str:
        if conn.uploads:
            raise InvalidInputError("an upload is already under way on this connection")
        upload_id = uuid.uuid4().hex
        path = self.spool / f"upload-{upload_id}{suffix}"
        path.touch(mode=0o600)
        conn.uploads[upload_id] = (path, 0)
        conn.upload_started = conn.upload_last = self.clock()
        return upload_id

    def _op_upload_chunk(self, conn: ConnectionState, transfer: str, data: str) -> int:
        path, size = self._upload(conn, transfer)
        try:
            chunk = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInputError("upload chunk is not valid base64") from None
        if size + len(chunk) > MAX_UPLOAD_BYTES:
            self._drop_upload(conn, transfer)
            raise InvalidInputError(f"the file is over the service's limit of {MAX_UPLOAD_BYTES >> 30} GiB")
        if self._spool_bytes(conn.user) + len(chunk) > MAX_SPOOL_BYTES_PER_USER:
            self._drop_upload(conn, transfer)
            raise InvalidInputError(self._spool_full(conn.user))
        with path.open("ab") as fh:
            fh.write(chunk)
        conn.uploads[transfer] = (path, size + len(chunk))
        conn.upload_last = self.clock()
        return size + len(chunk)

    def _spool_bytes(self, user: str) -> int:
        """The bytes of the user's uploads and exports under way, over all their connections."""
        with self._live_lock:
            conns = list(self._live.get(user, []))
        total = 0
        for conn in conns:
            total += sum(size for _, size in list(conn.uploads.values()))
            for path in list(conn.transfers.values()):
                with contextlib.suppress(OSError):
                    total += path.stat().st_size
        return total

    @staticmethod
    def _spool_full(user: str) -> str:
        return (
            f"{user}'s imports and exports under way would hold over {MAX_SPOOL_BYTES_PER_USER >> 30} GiB of the "
            "service's disk, the most one admin may; let the others finish first"
        )

    def expire_uploads(self, conn: ConnectionState) -> None:
        """Drop an upload that stalled (no chunk for a minute) or took over an hour, with its file
        (run by the loop for a connection with no request running)."""
        now = self.clock()
        for upload_id in list(conn.uploads):
            if now - conn.upload_last > UPLOAD_IDLE_SECONDS or now - conn.upload_started > UPLOAD_MAX_SECONDS:
                self._drop_upload(conn, upload_id)
                conn.expired_upload = upload_id

    def _op_import_upload(self, conn: ConnectionState, transfer: str, display_name: str, **options: Any) -> object:
        path, _ = self._upload(conn, transfer)
        try:
            report = self.store.import_file(path, **options)
        except StoreError as exc:
            raise type(exc)(str(exc).replace(str(path), display_name)) from None
        finally:
            self._drop_upload(conn, transfer)
        return dataclasses.replace(
            report,
            file=display_name,
            rejected=tuple(line.replace(str(path), display_name) for line in report.rejected),
        )

    def _upload(self, conn: ConnectionState, upload_id: str) -> tuple[Path, int]:
        try:
            return conn.uploads[upload_id]
        except KeyError:
            if upload_id and upload_id == conn.expired_upload:
                raise InvalidInputError(
                    f"the upload stalled (no data for {UPLOAD_IDLE_SECONDS:g} s, or over "
                    f"{UPLOAD_MAX_SECONDS / 3600:g} hour in all) and was dropped; run the import again"
                ) from None
            raise InvalidInputError("no such upload on this connection") from None

    def _drop_upload(self, conn: ConnectionState, upload_id: str) -> None:
        path, _ = conn.uploads.pop(upload_id, (None, 0))
        if path is not None:
            path.unlink(missing_ok=True)

    # -- export: the service writes its own temporary file and streams it back ---------
    def _op_export_begin(self, conn: ConnectionState, dataset: str, file_format: str, **options: Any) -> dict:
        if len(conn.transfers) >= MAX_TRANSFERS_PER_CONNECTION:
            raise InvalidInputError(
                f"{len(conn.transfers)} exports of this connection are not closed yet; close one (transfer_close) first"
            )
        transfer = uuid.uuid4().hex
        path = self.spool / f"export-{transfer}"
        try:
            rows = self.store.export_to_path(dataset, ExportOptions(**options), file_format, path)
            if self._spool_bytes(conn.user) + path.stat().st_size > MAX_SPOOL_BYTES_PER_USER:
                raise InvalidInputError(self._spool_full(conn.user))
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        conn.transfers[transfer] = path
        return {"transfer": transfer, "rows": rows, "size": path.stat().st_size}

    def _op_transfer_read(self, conn: ConnectionState, transfer: str, offset: int) -> str:
        path = conn.transfers.get(transfer)
        if path is None:
            raise InvalidInputError("no such export on this connection")
        with path.open("rb") as fh:
            fh.seek(offset)
            return base64.b64encode(fh.read(TRANSFER_CHUNK)).decode("ascii")

    def _op_transfer_close(self, conn: ConnectionState, transfer: str) -> None:
        path = conn.transfers.pop(transfer, None)
        if path is not None:
            path.unlink(missing_ok=True)

    def disconnected(self, conn: ConnectionState) -> None:
        """A client went away: free the records it was holding (unless another connection of
        the same user holds them too) and its temporary files."""
        with self._live_lock:
            others = [c for c in self._live.get(conn.user, []) if c is not conn]
            if others:
                self._live[conn.user] = others
            else:
                self._live.pop(conn.user, None)
            held_elsewhere = set().union(*(c.leased for c in others)) if others else set()
        for record_id in list(conn.leased - held_elsewhere):
            with contextlib.suppress(StoreError):
                self.store.release_lease(record_id, conn.user)
        for upload_id in list(conn.uploads):
            self._drop_upload(conn, upload_id)
        for transfer in list(conn.transfers):
            self._op_transfer_close(conn, transfer)


# -- the socket loop ------------------------------------------------------------------
@dataclass(eq=False)  # identity semantics: kept in sets
class _Client:
    sock: socket.socket
    uid: int
    state: ConnectionState
    inbuf: bytearray = field(default_factory=bytearray)
    outbuf: bytearray = field(default_factory=bytearray)
    busy: bool = False  # a request of this connection is running
    waiting: bool = False  # a complete request waits for a free slot of its user
    closed: bool = False
    close_after_write: bool = False
    last_active: float = field(default_factory=time.monotonic)
    unsent_since: float | None = None  # when the reply now waiting in outbuf was queued
    line_since: float | None = None  # when the unfinished request line in inbuf began to be read


class ServiceLoop:
    """Accepts, reads and writes on one thread; runs requests on a bounded pool."""

    def __init__(self, listener: socket.socket, service: StoreService, idle_seconds: float = DEFAULT_IDLE_SECONDS):
        self.listener = listener
        self.service = service
        self.idle_seconds = idle_seconds
        self.selector = selectors.DefaultSelector()
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="store")
        self.done: queue.SimpleQueue[tuple[_Client, bytes]] = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stop = threading.Event()
        self._stopping = False
        self.clients: set[_Client] = set()
        self.per_user: dict[int, int] = {}
        self.running: dict[int, int] = {}
        self.pending_bytes: dict[int, int] = {}  # per uid: reply bytes in its connections' outbufs
        self.queued: dict[int, deque[_Client]] = {}
        self.accept_paused_until: float | None = None

    def shutdown(self) -> None:
        self._stop.set()
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def serve_forever(self) -> None:
        self.listener.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self.selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        last_reap = time.monotonic()
        try:
            while not self._stop.is_set():
                for key, mask in self.selector.select(timeout=1.0):
                    if key.data == "accept":
                        self._accept()
                    elif key.data == "wake":
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)
                    else:
                        client: _Client = key.data
                        if mask & selectors.EVENT_READ:
                            self._read(client)
                        if mask & selectors.EVENT_WRITE and not client.closed:
                            self._flush(client)
                self._collect()
                if time.monotonic() - last_reap >= 1.0:
                    self._reap_idle()
                    last_reap = time.monotonic()
        finally:
            self._stopping = True
            self._collect()  # replies already made (such as the one saying why the service stops) go out first
            for client in list(self.clients):
                self._close(client)
            self.pool.shutdown(wait=True)
            self.selector.close()
            self._wake_r.close()
            self._wake_w.close()

    # -- connections -------------------------------------------------------------------
    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of file descriptors: stop accepting for a moment instead of spinning
                self._pause_accepting()
                return
            sock.setblocking(False)
            pid, uid, peer_gid = peer_credentials(sock)
            name = user_name(uid)
            state = ConnectionState(user=name, is_admin=name in self.service.admins)
            client = _Client(sock, uid, state)
            self.service.connected(state)
            refusal = self.service.refusal(uid, peer_gid, pid) or None
            if refusal:
                pass
            elif len(self.clients) >= MAX_CONNECTIONS:
                refusal = f"the store service is at its limit of {MAX_CONNECTIONS} connections; try again shortly"
            elif self.per_user.get(uid, 0) >= MAX_CONNECTIONS_PER_USER:
                refusal = (
                    f"{name} already has {MAX_CONNECTIONS_PER_USER} connections to the store service; "
                    "close some (each rlhf-tui uses one)"
                )
            self.clients.add(client)
            self.per_user[uid] = self.per_user.get(uid, 0) + 1
            self.selector.register(sock, selectors.EVENT_READ, client)
            if refusal:
                error = {"type": "PermissionDeniedError", "message": refusal}
                self._send(client, wire.encode({"error": error}), close_after=True)
            else:
                self._send(client, wire.encode({"hello": self.service.hello(state)}))

    def _close(self, client: _Client) -> None:
        if client.closed:
            return
        client.closed = True
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(client.sock)
        with contextlib.suppress(OSError):
            client.sock.close()
        self.clients.discard(client)
        self.per_user[client.uid] -= 1
        if not self.per_user[client.uid]:
            del self.per_user[client.uid]
        self._count_pending(client, -len(client.outbuf))
        client.outbuf.clear()
        if not client.busy:
            self._cleanup(client)
        self._release_waiting(client.uid)

    def _cleanup(self, client: _Client) -> None:
        self.pool.submit(self.service.disconnected, client.state)

    def _pause_accepting(self) -> None:
        if self.accept_paused_until is None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(self.listener)
        self.accept_paused_until = time.monotonic() + 1.0

    def _resume_accepting(self) -> None:
        if self.accept_paused_until is not None and time.monotonic() >= self.accept_paused_until:
            self.accept_paused_until = None
            self.selector.register(self.listener, selectors.EVENT_READ, "accept")

    def _reap_idle(self) -> None:
        now = time.monotonic()
        self._resume_accepting()
        for client in list(self.clients):
            if client.unsent_since is not None and now - client.unsent_since > WRITE_TIMEOUT_SECONDS:
                self._close(client)  # it does not read its replies
            elif not client.busy and not client.waiting and now - client.last_active > self.idle_seconds:
                self._close(client)
            elif not client.busy and client.line_since is not None and now - client.line_since > self.idle_seconds:
                self._close(client)  # a request trickled in a byte at a time never makes the connection active
            elif not client.busy and client.state.uploads:
                self.service.expire_uploads(client.state)  # no worker is on this connection now

    # -- reading and writing -------------------------------------------------------------
    def _read(self, client: _Client) -> None:
        try:
            data = client.sock.recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(client)
            return
        if not data:
            self._close(client)
            return
        client.last_active = time.monotonic()
        client.inbuf += data
        if b"\n" in data or not client.inbuf:
            client.line_since = None
        elif client.line_since is None:
            client.line_since = client.last_active
        if b"\n" not in client.inbuf and len(client.inbuf) > protocol.MAX_LINE_BYTES:
            error = {"type": "InvalidInputError", "message": f"request over {protocol.MAX_LINE_BYTES >> 20} MiB"}
            client.inbuf.clear()
            self._send(client, wire.encode({"error": error}), close_after=True)
            return
        self._maybe_dispatch(client)

    def _maybe_dispatch(self, client: _Client) -> None:
        if self._stopping:
            return
        if client.closed or client.busy or client.waiting or client.close_after_write or b"\n" not in client.inbuf:
            return
        if client.outbuf:  # the last reply first: a client that does not read cannot make the service hoard
            return
        if (
            self.running.get(client.uid, 0) >= MAX_RUNNING_PER_USER
            or self.pending_bytes.get(client.uid, 0) >= MAX_PENDING_REPLY_BYTES_PER_USER
        ):
            client.waiting = True
            self.queued.setdefault(client.uid, deque()).append(client)
            self._pause_reading(client)
            return
        line_end = client.inbuf.index(b"\n")
        line = bytes(client.inbuf[:line_end])
        del client.inbuf[: line_end + 1]
        client.busy = True
        self.running[client.uid] = self.running.get(client.uid, 0) + 1
        self._pause_reading(client)  # one request at a time per connection; the kernel buffers the rest
        self.pool.submit(self._run, client, line)

    def _pause_reading(self, client: _Client) -> None:
        events = selectors.EVENT_WRITE if client.outbuf else 0
        self._modify(client, events)

    def _modify(self, client: _Client, events: int) -> None:
        if client.closed:
            return
        try:
            if events:
                self.selector.modify(client.sock, events, client)
            else:
                self.selector.unregister(client.sock)
        except KeyError:
            if events:
                self.selector.register(client.sock, events, client)
        except ValueError:
            pass

    def _resume_reading(self, client: _Client) -> None:
        events = (selectors.EVENT_READ if self._wants_read(client) else 0) | (
            selectors.EVENT_WRITE if client.outbuf else 0
        )
        self._modify(client, events)

    @staticmethod
    def _wants_read(client: _Client) -> bool:
        """Read more only when nothing of this connection runs or waits to be written and at most
        one request line is buffered: a client cannot make the service hold more than that."""
        return (
            not client.busy
            and not client.waiting
            and not client.close_after_write
            and not client.outbuf
            and len(client.inbuf) <= protocol.MAX_LINE_BYTES
        )

    def _run(self, client: _Client, line: bytes) -> None:
        """On a worker thread: answer one request line."""
        reply = answer_line(self.service, client.state, line)
        self.done.put((client, reply))
        self._wake()

    def _collect(self) -> None:
        while True:
            try:
                client, reply = self.done.get_nowait()
            except queue.Empty:
                return
            client.busy = False
            self.running[client.uid] -= 1
            if client.closed:
                self._cleanup(client)
            else:
                client.last_active = time.monotonic()
                if client.line_since is not None:  # the rest of the next line was not read while this one ran
                    client.line_since = client.last_active
                self._send(client, reply)
                self._resume_reading(client)
                self._maybe_dispatch(client)
            if self.service.fatal is not None:
                self.shutdown()  # this reply named the cause; nothing else can succeed now
            self._release_waiting(client.uid)

    def _release_waiting(self, uid: int) -> None:
        """Run the user's queued requests while they are under both of their limits."""
        waiting = self.queued.get(uid)
        while (
            waiting
            and self.running.get(uid, 0) < MAX_RUNNING_PER_USER
            and self.pending_bytes.get(uid, 0) < MAX_PENDING_REPLY_BYTES_PER_USER
        ):
            other = waiting.popleft()
            other.waiting = False
            self._maybe_dispatch(other)
        if not waiting:
            self.queued.pop(uid, None)

    def _count_pending(self, client: _Client, change: int) -> None:
        total = self.pending_bytes.get(client.uid, 0) + change
        if total > 0:
            self.pending_bytes[client.uid] = total
        else:
            self.pending_bytes.pop(client.uid, None)

    def _send(self, client: _Client, data: bytes, close_after: bool = False) -> None:
        if client.closed:
            return
        client.outbuf += data
        self._count_pending(client, len(data))
        client.close_after_write = client.close_after_write or close_after
        self._flush(client)

    def _flush(self, client: _Client) -> None:
        try:
            while client.outbuf:
                sent = client.sock.send(client.outbuf)
                del client.outbuf[:sent]
                self._count_pending(client, -sent)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self._close(client)
            return
        if self.pending_bytes.get(client.uid, 0) < MAX_PENDING_REPLY_BYTES_PER_USER and client.uid in self.queued:
            self._release_waiting(client.uid)
        if not client.outbuf and client.close_after_write:
            self._close(client)
            return
        if client.outbuf:
            if client.unsent_since is None:
                client.unsent_since = time.monotonic()
        elif client.unsent_since is not None:
            client.unsent_since = None
            client.last_active = time.monotonic()
        # Nothing more is read while a reply waits: the kernel's buffers push back on the client.
        events = (selectors.EVENT_READ if self._wants_read(client) else 0) | (
            selectors.EVENT_WRITE if client.outbuf else 0
        )
        self._modify(client, events)
        if not client.outbuf and not client.busy:
            self._maybe_dispatch(client)


def answer_line(service: StoreService, conn: ConnectionState, line: bytes) -> bytes:
    """One request line in, one reply line out; every failure is a reply, never a crash."""
    request_id = None
    try:
        try:
            request = json.loads(line)
        except (ValueError, RecursionError):
            raise InvalidInputError("the request is not valid JSON") from None
        if not isinstance(request, dict):
            raise InvalidInputError("the request must be a JSON object")
        request_id = request.get("id") if isinstance(request.get("id"), int) else None
        result = service.call(conn, request.get("op"), request.get("params", {}))
        reply = wire.encode({"id": request_id, "result": result})
        if len(reply) > protocol.MAX_REPLY_BYTES:
            raise InvalidInputError(
                f"the reply would be over {protocol.MAX_REPLY_BYTES >> 20} MiB; ask for fewer records at a time"
            )
        return reply
    except StoreError as exc:
        return wire.encode({"id": request_id, "error": wire.error_to_wire(exc)})
    except Exception as exc:  # keep serving the others; the operator gets the traceback
        if is_fatal(exc):
            service.fail(exc)  # the details (with the store's private path) go to the service's log and exit
            return wire.encode({"id": request_id, "error": {"type": "StoreError", "message": STOPPING}})
        traceback.print_exc(file=sys.stderr)
        message = f"internal error in the store service ({type(exc).__name__}); its log has the details"
        if _is_disk_full(exc):
            message = "the store service's disk is full, so nothing was saved; ask its admin to free space"
        return wire.encode({"id": request_id, "error": {"type": "StoreError", "message": message}})


def _is_disk_full(exc: BaseException) -> bool:
    """An error from running out of space, as the OS or DuckDB (which words it) reports it."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc)
    return "No space left on device" in text or "Disk quota exceeded" in text


def _prepare_socket_folder(folder: Path, gid: int | None) -> None:
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o750 if gid is not None else 0o700)
        if gid is not None:
            os.chown(folder, -1, gid)
            os.chmod(folder, 0o750)
    problems = socket_folder_problems(folder, gid, (os.geteuid(), 0))
    if problems:
        raise StoreError("refusing to serve: " + "; ".join(problems))


def clear_stale_spools(tmp: Path) -> list[Path]:
    """Remove the spool folders of services of this user that died without cleaning up (SIGKILL,
    a crash): those whose process no longer runs. Returns what was removed."""
    removed = []
    for folder in tmp.glob(f"{SPOOL_PREFIX}*-*"):
        pid_text = folder.name[len(SPOOL_PREFIX) :].split("-", 1)[0]
        try:
            st = folder.lstat()
        except OSError:
            continue
        if not pid_text.isdigit() or not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            continue
        try:
            os.kill(int(pid_text), 0)
            continue  # still running (or the pid was reused): left alone
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, MAX_CONNECTIONS + 128))
    if wanted > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def serve(
    store_path: Path,
    socket_path: Path | None = None,
    group: str | None = None,
    admins: set[str] | None = None,
    on_ready: Callable[[ServiceLoop, Path], None] | None = None,
    idle_seconds: float = DEFAULT_IDLE_SECONDS,
    free_space: FreeSpace = free_bytes,
) -> None:
    """Serve until shutdown() (the CLI calls it on SIGINT/SIGTERM). Raises StoreError, naming
    the cause, when the database was invalidated: the process must end with a failure status
    so that its supervisor restarts it. `free_space` measures a folder's free bytes (tests
    inject a nearly full disk)."""
    os.umask(0o077)  # for the service's whole life: the WAL and temp files DuckDB makes later are private too
    socket_path = socket_path or default_socket_path(store_path)
    gid = resolve_group(group) if group else None
    problems = serve_problems(store_path, socket_path, gid)
    if problems:
        raise StoreError("refusing to serve: " + "; ".join(problems))
    if socket_path.is_socket():
        if socket_in_use(socket_path):
            raise StoreError(f"{socket_path} is already served by another rlhf-tui serve")
        socket_path.unlink()  # left behind by a service that died (serve_problems refused anything but a socket)
    _prepare_socket_folder(socket_path.parent, gid)
    _raise_fd_limit()
    store = DuckDBStore(store_path)
    clear_stale_spools(Path(tempfile.gettempdir()))
    spool = Path(tempfile.mkdtemp(prefix=f"{SPOOL_PREFIX}{os.getpid()}-"))  # 0700
    try:
        guard = DiskGuard({store_path.absolute().parent: wal_path(store_path), spool: None}, free_space)
        service = StoreService(store, admins or set(), spool, gid, guard)
        ServiceMarker(str(socket_path.absolute()), gid, tuple(sorted(service.admins))).write(store_path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(socket_path))  # under umask 077: 0600 from the start, widened below
        bound = socket_path.lstat()
        try:
            if gid is not None:
                os.chown(socket_path, -1, gid)
                os.chmod(socket_path, 0o660)
            else:
                os.chmod(socket_path, 0o600)
            listener.listen(128)
            loop = ServiceLoop(listener, service, idle_seconds)
            if on_ready:
                on_ready(loop, socket_path)
            loop.serve_forever()
        finally:
            listener.close()
            _remove_own_socket(socket_path, bound)
    finally:
        with contextlib.suppress(Exception):  # an invalidated database may fail to close too
            store.close()
        shutil.rmtree(spool, ignore_errors=True)
    if service.fatal is not None:
        raise StoreError(f"the store service stopped: {service.fatal}; start it again (its supervisor does)")


def _remove_own_socket(socket_path: Path, bound: os.stat_result) -> None:
    """Remove the socket this service made, and nothing else that may have taken its name since."""
    with contextlib.suppress(OSError):
        now = socket_path.lstat()
        if stat.S_ISSOCK(now.st_mode) and (now.st_dev, now.st_ino) == (bound.st_dev, bound.st_ino):
            socket_path.unlink()
