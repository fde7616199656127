"""`rlhf-tui serve`: one process owns the DuckDB file and serves the store interface
over a Unix domain socket to every annotator on the machine.

Who is calling comes from the kernel (SO_PEERCRED), never from the request: answers are
saved and read only under the caller's own name, and import/export/settings are for
the service's own user and the named admins."""

from __future__ import annotations

import grp
import inspect
import os
import pwd
import socket
import socketserver
import struct
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from . import wire
from .duckdb_store import DuckDBStore
from .errors import InvalidInputError, PermissionDeniedError, StoreError
from .types import AnnotationInput

# Methods any annotator may call; those with an `annotator` argument only for themselves.
ANNOTATOR_METHODS = frozenset(
    {
        "list_datasets",
        "get_dataset",
        "get_records",
        "get_record",
        "record_ids",
        "next_records",
        "renew_lease",
        "release_lease",
        "release_all_leases",
        "get_annotation",
        "annotation_history",
        "save_annotation",
        "answered_record_ids",
        "progress",
    }
)
ADMIN_METHODS = frozenset(
    {
        "create_dataset",
        "update_dataset",
        "delete_dataset",
        "import_file",
        "export",
        "preference_rows",
        "export_rows",
        "status_counts",
        "overfilled_records",
        "submitted_rankings",
        "save_scores",
        "scores",
    }
)
SOCKET_SUFFIX = ".sock"


def default_socket_path(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + SOCKET_SUFFIX)


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid-{uid}"  # a uid without a passwd entry still has a stable name


def peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


def resolve_group(group: str) -> int:
    if group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise InvalidInputError(f"no group named {group!r} on this machine") from None


@dataclass
class ConnectionState:
    user: str
    is_admin: bool
    leased: set[int] = field(default_factory=set)


class StoreService:
    """Dispatches requests to the one DuckDBStore, enforcing identity and roles."""

    def __init__(self, store: DuckDBStore, admins: set[str]):
        self.store = store
        self.admins = admins | {user_name(os.geteuid())}
        self._signatures = {name: inspect.signature(getattr(store, name)) for name in ANNOTATOR_METHODS | ADMIN_METHODS}

    def call(self, conn: ConnectionState, method: str, args: list, kwargs: dict):
        if method not in self._signatures:
            raise StoreError(f"the store service has no method {method!r}")
        if method in ADMIN_METHODS and not conn.is_admin:
            raise PermissionDeniedError(
                f"{method.replace('_', ' ')} is for admins; {conn.user} is not one "
                "(the service's user and its --admin users are)"
            )
        bound = self._signatures[method].bind(*args, **kwargs)
        self._check_identity(conn, method, bound.arguments)
        result = getattr(self.store, method)(*bound.args, **bound.kwargs)
        self._track_leases(conn, method, bound.arguments, result)
        return result

    def _check_identity(self, conn: ConnectionState, method: str, arguments: dict) -> None:
        claimed = arguments.get("annotator")
        answer = arguments.get("answer")
        if isinstance(answer, AnnotationInput):
            claimed = answer.annotator
        elif answer is not None:
            raise InvalidInputError("save_annotation needs an AnnotationInput")
        if claimed is not None and claimed != conn.user:
            raise PermissionDeniedError(
                f"you are connected as {conn.user}; you cannot act as {claimed} "
                "(the service takes your name from the operating system)"
            )

    def _track_leases(self, conn: ConnectionState, method: str, arguments: dict, result) -> None:
        if method == "next_records":
            conn.leased.update(r.id for r in result)
        elif method == "release_lease":
            conn.leased.discard(arguments["record_id"])
        elif method == "release_all_leases":
            conn.leased.clear()
        elif method == "save_annotation" and arguments["answer"].status != "draft":
            conn.leased.discard(arguments["answer"].record_id)

    def disconnected(self, conn: ConnectionState) -> None:
        """A client went away: free the records it was holding, so others get them now."""
        for record_id in list(conn.leased):
            try:
                self.store.release_lease(record_id, conn.user)
            except StoreError:
                pass


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        uid = peer_uid(self.connection)
        name = user_name(uid)
        service = self.server.service
        conn = ConnectionState(user=name, is_admin=name in service.admins)
        try:
            while line := self.rfile.readline():
                reply = self._answer(service, conn, line)
                self.wfile.write(wire.encode(reply))
                self.wfile.flush()
        except (ConnectionError, OSError):
            pass
        finally:
            service.disconnected(conn)

    def _answer(self, service: StoreService, conn: ConnectionState, line: bytes) -> dict:
        request_id = None
        try:
            request = wire.decode(line)
            request_id = request.get("id")
            if request.get("method") == "whoami":
                return {"id": request_id, "result": {"user": conn.user, "admin": conn.is_admin}}
            result = service.call(conn, request["method"], request.get("args", []), request.get("kwargs", {}))
            return {"id": request_id, "result": result}
        except StoreError as exc:
            return {"id": request_id, "error": wire.error_to_wire(exc)}
        except (TypeError, ValueError, KeyError) as exc:
            return {"id": request_id, "error": {"type": "StoreError", "message": f"bad request: {exc}"}}
        except Exception as exc:  # keep serving the others; the operator gets the traceback
            traceback.print_exc(file=sys.stderr)
            return {
                "id": request_id,
                "error": {"type": "StoreError", "message": f"internal error in the store service: {exc}"},
            }


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, socket_path: str, service: StoreService):
        self.service = service
        super().__init__(socket_path, _Handler)


def socket_in_use(socket_path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(socket_path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def serve(
    store_path: Path,
    socket_path: Path | None = None,
    group: str | None = None,
    admins: set[str] | None = None,
    ready: threading.Event | None = None,
    on_ready=None,
) -> None:
    """Serve until interrupted (SIGINT/SIGTERM via KeyboardInterrupt or shutdown())."""
    socket_path = socket_path or default_socket_path(store_path)
    if socket_path.exists():
        if socket_in_use(socket_path):
            raise StoreError(f"{socket_path} is already served by another rlhf-tui serve")
        socket_path.unlink()  # left behind by a service that died
    gid = resolve_group(group) if group else None
    # Group members read and write; nobody else gets in.
    old_umask = os.umask(0o007 if gid is not None else 0o077)
    try:
        store = DuckDBStore(store_path)
        if gid is not None:
            for path in (store_path, store_path.with_name(store_path.name + ".wal")):
                if path.exists():
                    os.chown(path, -1, gid)
                    os.chmod(path, 0o660)
        server = _Server(str(socket_path), StoreService(store, admins or set()))
    finally:
        os.umask(old_umask)
    try:
        if gid is not None:
            os.chown(socket_path, -1, gid)
            os.chmod(socket_path, 0o660)
        else:
            os.chmod(socket_path, 0o600)
        if on_ready:
            on_ready(server, socket_path)
        if ready:
            ready.set()
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if socket_path.exists():
            socket_path.unlink()
        store.close()
