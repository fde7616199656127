"""The team service's start-up checks, its socket's path, who may connect, a nearly full disk
and an invalidated database. The service runs in this process (a thread), so the disk probe
and the database's failure can be injected; clients as other users are forked after every
import and drop to their uid, so these tests need root (CI runs as root)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from conftest import rank_rows, write_jsonl

from rlhf_tui.cli import main
from store.connect import connect_store, open_store
from store.embedded import DuckDBStore
from store.errors import InvalidInputError, StoreError
from store.service import checks
from store.service.client import ServiceClient
from store.service.server import serve
from store.types import AnnotationInput

GROUP_ID = 20000
OUTSIDER_GID = 20100
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="clients as other users need root to drop to them")


@pytest.fixture
def shared():
    # pytest's tmp dirs are private to root; other uids must reach the socket's folder.
    folder = Path(tempfile.mkdtemp(prefix="rlhf-checks-"))
    folder.chmod(0o755)
    (folder / "data").mkdir(mode=0o700)
    yield folder
    subprocess.run(["rm", "-rf", str(folder)], check=False)


def seeded(store_path: Path, n: int = 3) -> Path:
    with open_store(store_path) as s:
        s.import_file(write_jsonl(store_path.parent / "rows.jsonl", rank_rows(n, k=2)), dataset="d")
    (store_path.parent / "rows.jsonl").unlink()
    return store_path


@contextlib.contextmanager
def running(store_path: Path, sock: Path, **options) -> Iterator[dict]:
    """`serve` on a thread of this process; yields {"loop", "error"} once it listens."""
    state: dict = {"error": None}
    ready = threading.Event()

    def on_ready(loop, path) -> None:
        state["loop"] = loop
        ready.set()

    def run() -> None:
        try:
            serve(store_path, sock, on_ready=on_ready, **options)
        except BaseException as exc:  # handed to the test
            state["error"] = exc
        finally:
            ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30), "the service did not start"
    if state["error"] is not None:
        raise state["error"]
    state["thread"] = thread
    try:
        yield state
    finally:
        if "loop" in state:
            state["loop"].shutdown()
        thread.join(30)


def hello_as(uid: int, gid: int, sock: Path) -> dict:
    """The first line the service sends a client of `uid`/`gid` (forked: no import after the drop)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to the user, connect, pass back the first line
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.settimeout(10)
            client.connect(str(sock))
            line = client.makefile("rb").readline()
            os.write(write_end, line or b'{"closed": true}\n')
        except OSError as exc:
            os.write(write_end, json.dumps({"oserror": exc.strerror}).encode() + b"\n")
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as fh:
        line = fh.readline()
    os.waitpid(pid, 0)
    return json.loads(line)


# -- 6: a socket's path is never a store ------------------------------------------------------
def test_a_path_named_like_a_socket_is_never_opened_as_a_store(tmp_path, capsys):
    down = tmp_path / "run" / "team.sock"
    down.parent.mkdir()
    for opener in (connect_store, open_store):
        with pytest.raises(InvalidInputError, match=r"named like a store service's socket \(\.sock\)"):
            opener(down)
    rows = write_jsonl(tmp_path / "rows.jsonl", rank_rows(2))
    assert main(["import", str(rows), "--dataset", "d", "--store", str(down)]) == 1
    assert "no service is listening there" in capsys.readouterr().err
    assert not down.exists() and not down.with_name("team.sock.wal").exists()

    # A store someone made there with an older rlhf-tui is not opened either.
    seeded(tmp_path / "made.duckdb").rename(down)
    with pytest.raises(InvalidInputError, match=r"move it to a name without \.sock"):
        connect_store(down)


def test_a_socket_left_behind_is_never_opened_as_a_store(tmp_path):
    stale = tmp_path / "stale"  # no .sock: only its being a socket tells
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(stale))
    listener.close()  # the file stays, nobody listens
    with pytest.raises(InvalidInputError, match="is a store service's socket, not a store file"):
        open_store(stale)
    assert stale.is_socket()


@needs_root
def test_serve_never_removes_a_file_that_is_not_a_socket(shared):
    store_path = seeded(shared / "data" / "team.duckdb")
    run = shared / "run"
    run.mkdir(mode=0o700)
    imported = seeded(run / "team.duckdb")  # answers imported into a store at the socket's path
    sock = imported.rename(run / "team.sock")
    with pytest.raises(StoreError, match="exists and is not a socket"), running(store_path, sock):
        pass
    assert sock.is_file() and sock.stat().st_size > 0

    with pytest.raises(StoreError, match=r"a socket's name ends in \.sock"), running(store_path, run / "team.socket"):
        pass


@needs_root
def test_serve_replaces_a_socket_a_dead_service_left_and_removes_only_its_own(shared):
    store_path = seeded(shared / "data" / "team.duckdb")
    sock = shared / "run" / "team.sock"
    sock.parent.mkdir(mode=0o700)
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(sock))
    dead.close()
    with running(store_path, sock) as service:
        assert ServiceClient(sock).whoami()["user"] == "root"
        # Someone replaces the socket with a file while the service runs: it is left alone at exit.
        sock.unlink()
        sock.write_text("not the service's")
        service["loop"].shutdown()
        service["thread"].join(30)
    assert sock.read_text() == "not the service's"


# -- 8: one check for serve, serve --check and the clients ---------------------------------
@needs_root
@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777])
def test_serve_check_reports_every_socket_folder_that_serve_refuses(shared, capsys, mode):
    store_path = seeded(shared / "data" / "team.duckdb")
    run = shared / "run"
    run.mkdir()
    os.chown(run, 0, GROUP_ID)
    run.chmod(mode)
    sock = run / "team.sock"
    args = ["serve", "--store", str(store_path), "--socket", str(sock), "--group", str(GROUP_ID)]
    assert main([*args, "--check"]) == 1
    out = capsys.readouterr().out
    assert f"can be written by others (mode {mode:o}" in out and "no problems found" not in out
    with pytest.raises(StoreError, match="can be written by others"), running(store_path, sock, group=str(GROUP_ID)):
        pass
    # The clients refuse such a folder on the same rule.
    assert checks.socket_folder_problems(run, None, (0,))


def _acl(*entries: tuple[int, int, int]) -> bytes:
    undefined = 0xFFFFFFFF
    return struct.pack("<I", 2) + b"".join(
        struct.pack("<HHI", tag, perms, undefined if ident is None else ident) for tag, perms, ident in entries
    )


def test_an_acl_is_read_with_its_mask():
    data = _acl((0x01, 7, None), (0x02, 7, 20005), (0x04, 5, None), (0x08, 6, 20100), (0x10, 5, None), (0x20, 0, None))
    assert checks.parse_acl(data) == [checks.AclGrant("user", 20005, 5), checks.AclGrant("group", 20100, 4)]
    only_mode = _acl((0x01, 6, None), (0x04, 4, None), (0x20, 0, None))
    assert checks.parse_acl(only_mode) == []
    with pytest.raises(ValueError):
        checks.parse_acl(b"\x01\x00\x00\x00garbage")


def _set_acl(path: Path, name: str, data: bytes) -> None:
    try:
        os.setxattr(path, name, data)
    except OSError as exc:
        pytest.skip(f"this file system keeps no ACLs ({exc.strerror})")


@needs_root
@pytest.mark.parametrize("which", ["access", "default"])
def test_an_acl_on_the_socket_folder_is_seen_by_serve_and_serve_check(shared, capsys, which):
    store_path = seeded(shared / "data" / "team.duckdb")
    run = shared / "run"
    run.mkdir()
    os.chown(run, 0, GROUP_ID)
    run.chmod(0o750)
    # user:20005:r-x — the mode still reads 750, yet an outsider can enter (or, by default, reach the socket).
    acl = _acl((0x01, 7, None), (0x02, 5, 20005), (0x04, 5, None), (0x10, 5, None), (0x20, 0, None))
    _set_acl(run, checks.ACCESS_ACL if which == "access" else checks.DEFAULT_ACL, acl)
    assert run.stat().st_mode & 0o777 == 0o750
    sock = run / "team.sock"
    args = ["serve", "--store", str(store_path), "--socket", str(sock), "--group", str(GROUP_ID)]
    assert main([*args, "--check"]) == 1
    out = capsys.readouterr().out
    assert f"gives user {checks.user_name(20005)} r-x" in out, out
    with pytest.raises(StoreError, match="ACL"), running(store_path, sock, group=str(GROUP_ID)):
        pass


@needs_root
def test_an_acl_on_the_store_is_refused(shared):
    store_path = seeded(shared / "data" / "team.duckdb")
    _set_acl(
        store_path,
        checks.ACCESS_ACL,
        _acl((0x01, 6, None), (0x02, 4, 20005), (0x04, 0, None), (0x10, 4, None), (0x20, 0, None)),
    )
    problems = checks.serve_problems(store_path, shared / "run" / "team.sock", GROUP_ID)
    assert any("(the store) has an ACL" in p and "setfacl -b" in p for p in problems), problems


@needs_root
def test_the_service_refuses_a_user_outside_its_group_even_when_the_socket_lets_them_in(shared):
    store_path = seeded(shared / "data" / "team.duckdb")
    sock = shared / "run" / "team.sock"
    with running(store_path, sock, group=str(GROUP_ID)):
        assert "hello" in hello_as(20001, GROUP_ID, sock)  # a member
        # Someone opens the socket wider than the group (an ACL or a chmod does the same).
        sock.parent.chmod(0o755)
        sock.chmod(0o666)
        refused = hello_as(20003, OUTSIDER_GID, sock)
        assert refused.get("error", {}).get("type") == "PermissionDeniedError", refused
        assert f"is not a member of group {GROUP_ID}" in refused["error"]["message"]
        assert "hello" in hello_as(20001, GROUP_ID, sock)


# -- 3: a nearly full disk, an invalidated database -----------------------------------------
@needs_root
def test_writes_are_refused_with_one_line_while_the_disk_is_nearly_full(shared):
    store_path = seeded(shared / "data" / "team.duckdb")
    sock = shared / "run" / "team.sock"
    free = {"bytes": 10 << 20}
    with running(store_path, sock, free_space=lambda folder: free["bytes"]):
        client = ServiceClient(sock)
        assert len(client.get_records(client.record_ids("d"))) == 3  # reading still works
        with pytest.raises(StoreError, match=r"disk is nearly full \(10 MiB free; it keeps 256 MiB"):
            client.next_records("d", "root")
        record_id = client.record_ids("d")[0]
        with pytest.raises(StoreError, match="nothing was saved"):
            client.save_annotation(AnnotationInput(record_id, "root", "submitted", (1, 2)))
        free["bytes"] = 10 << 30  # space freed: the same service takes answers again
        [handed] = client.next_records("d", "root")
        client.save_annotation(AnnotationInput(handed.id, "root", "submitted", (1, 2)))
        assert client.get_annotation(handed.id, "root") is not None
        client.close()


def test_every_operation_that_runs_on_a_full_disk_exists():
    from store.service import operations
    from store.service.disk_guard import RUN_ON_A_FULL_DISK

    assert set(operations.OPERATIONS) >= RUN_ON_A_FULL_DISK
    for writes in ("save_annotation", "next_records", "upload_chunk", "import_upload", "save_review", "create_dataset"):
        assert writes not in RUN_ON_A_FULL_DISK


@needs_root
def test_an_invalidated_database_stops_the_service_at_once_naming_the_cause(shared, monkeypatch):
    store_path = seeded(shared / "data" / "team.duckdb")
    sock = shared / "run" / "team.sock"

    def invalidated(self, *args, **kwargs):
        raise duckdb.FatalException("FATAL Error: database has been invalidated because of a previous fatal error")

    monkeypatch.setattr(DuckDBStore, "_save_annotation", invalidated)  # under save_annotation and the service's
    with running(store_path, sock) as service:
        client = ServiceClient(sock, reconnect_timeout=0)
        [handed] = client.next_records("d", "root")
        with pytest.raises(StoreError, match="the store service is stopping: its database was invalidated"):
            client.save_annotation(AnnotationInput(handed.id, "root", "submitted", (1, 2)))
        service["thread"].join(30)
        assert not service["thread"].is_alive(), "the service kept running on an invalidated database"
    assert isinstance(service["error"], StoreError)
    assert "the store service stopped: the store's database was invalidated (FatalException" in str(service["error"])
    assert not sock.exists()


@needs_root
def test_sigterm_stops_the_service_with_status_zero(shared):
    from service_support import start_service, stop

    store_path = seeded(shared / "data" / "team.duckdb")
    service = start_service(store_path, "--socket", str(shared / "run" / "team.sock"))
    stop(service)
    assert service.returncode == 0 and "store service stopped" in service.stderr.read()


def test_an_import_needs_room_for_the_file_it_brings_as_well_as_the_margin(tmp_path):
    from store.service.disk_guard import MIN_FREE_BYTES, DiskFullError, DiskGuard

    guard = DiskGuard({tmp_path: None}, free_space=lambda folder: MIN_FREE_BYTES + (50 << 20))
    guard.check("save_annotation")
    guard.check("get_records", writes=1 << 40)  # reading needs no room
    with pytest.raises(DiskFullError, match="nearly full"):
        guard.check("import_upload", writes=100 << 20)
    guard.check("import_upload", writes=10 << 20)


@needs_root
def test_serve_check_sees_an_acl_that_opens_the_running_services_socket(shared, capsys):
    store_path = seeded(shared / "data" / "team.duckdb")
    sock = shared / "run" / "team.sock"
    with running(store_path, sock, group=str(GROUP_ID)):
        args = ["serve", "--store", str(store_path), "--socket", str(sock), "--group", str(GROUP_ID), "--check"]
        assert main(args) == 0 and "no problems found" in capsys.readouterr().out
        # user:20005:rw- — the mode still reads 660.
        acl = _acl((0x01, 6, None), (0x02, 6, 20005), (0x04, 6, None), (0x10, 6, None), (0x20, 0, None))
        _set_acl(sock, checks.ACCESS_ACL, acl)
        assert sock.stat().st_mode & 0o777 == 0o660
        assert main(args) == 1
        out = capsys.readouterr().out
        assert f"(the socket) has an ACL that gives user {checks.user_name(20005)} rw-" in out, out
