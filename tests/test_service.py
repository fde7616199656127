"""The store service: identity from the kernel, admin-only operations, and durability
under killed clients and a killed service. Clients run as other uids (root drops to
them after its imports), so these tests need root; CI runs as root."""

from __future__ import annotations

import json
import os
import random
import select
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from conftest import rank_rows, write_jsonl
from service_support import start_service as start_team_service
from service_support import stop

import store.types
from store.connect import connect_store, open_store
from store.errors import PermissionDeniedError
from store.service.client import ServiceClient, ServiceUnavailableError

REPO = Path(__file__).resolve().parents[1]
GROUP_ID = 20000
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="clients as other users need root to drop to them")


@dataclass(frozen=True)
class Team:
    """A team server laid out as the README says: the store in a folder only the service's
    user (root here) can enter, the socket in a folder of its own for the group."""

    shared: Path  # where the test's other users may write (logs, their homes)
    store: Path
    sock: Path


@pytest.fixture
def team():
    # pytest's tmp dirs are private to root; other uids must reach the socket's folder and their logs.
    shared = Path(tempfile.mkdtemp(prefix="rlhf-service-"))
    shared.chmod(0o777)
    data = shared / "data"
    data.mkdir(mode=0o700)
    yield Team(shared, data / "team.duckdb", shared / "run" / "team.sock")
    subprocess.run(["rm", "-rf", str(shared)], check=False)


def start_service(team: Team, *extra: str) -> subprocess.Popen:
    return start_team_service(team.store, "--group", str(GROUP_ID), "--socket", str(team.sock), *extra)


def as_user(uid: int, code: str, gid: int = GROUP_ID) -> subprocess.CompletedProcess:
    """Run `code` in a client process that drops to `uid` (in group `gid`) before it runs."""
    prelude = (
        "import sys, store, store.service.client, store.types, store.connect, store.embedded\n"
        f"from benchmarks.loadgen import drop_privileges; drop_privileges({uid}, {gid})\n"
    )
    return subprocess.run([sys.executable, "-c", prelude + code], cwd=REPO, capture_output=True, text=True, timeout=120)


def seeded_store(team: Team, n: int, k: int) -> Path:
    with open_store(team.store) as s:
        s.import_file(write_jsonl(team.shared / "data.jsonl", rank_rows(n, k=3)), dataset="d", annotators_per_record=k)
    return team.store


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def raw_request(sock: socket.socket, reader, op: str, **params) -> dict:
    sock.sendall(json.dumps({"id": 1, "op": op, "params": params}).encode() + b"\n")
    return json.loads(reader.readline())


@needs_root
def test_commands_use_the_service_while_it_runs_and_never_fall_back_to_the_file(team):
    seeded_store(team, 3, 1)
    service = start_service(team)
    try:
        for target in (team.store, team.sock):  # the owner may name the store; anyone the socket
            s = connect_store(target)
            assert isinstance(s, ServiceClient)
            assert s.whoami() == {"user": "root", "admin": True}
            assert [d.records for d in s.list_datasets()] == [3]
            s.close()
    finally:
        stop(service)
    with pytest.raises(
        ServiceUnavailableError, match=r"the store service at .* is not answering .*; ask whoever runs it to start it"
    ):
        connect_store(team.store, reconnect_timeout=0.5)


@needs_root
def test_only_the_socket_is_shared_and_the_store_wal_and_exports_stay_private(team):
    seeded_store(team, 4, 1)
    service = start_service(team, "--admin", "uid-20002")
    try:
        member = as_user(
            20001,
            f"""
from store.service.client import ServiceClient
from store.types import AnnotationInput
c = ServiceClient({str(team.sock)!r})
r = c.next_records('d', c.user)[0]
c.save_annotation(AnnotationInput(r.id, c.user, 'submitted', (1, 2, 3), comment='my secret comment'))
from store.connect import connect_store
for target in ({str(team.store)!r},):
    try:
        connect_store(target)
        print('OPENED')
    except Exception as e:
        print('REFUSED', type(e).__name__, e)
try:
    open({str(team.store)!r} + '.wal', 'rb').read()
    print('READ WAL')
except PermissionError:
    print('WAL DENIED')
""",
        )
        assert member.returncode == 0, member.stderr
        assert "REFUSED PermissionDeniedError cannot reach" in member.stdout and "socket" in member.stdout
        assert "WAL DENIED" in member.stdout
        for path in (team.store, team.store.with_name("team.duckdb.wal")):
            info = path.stat()
            assert (info.st_uid, info.st_mode & 0o777) == (0, 0o600), path
        assert team.store.parent.stat().st_mode & 0o777 == 0o700
        sock_info = team.sock.stat()
        assert (sock_info.st_gid, sock_info.st_mode & 0o777) == (GROUP_ID, 0o660)

        outsider = as_user(
            20099,
            f"from store.service.client import ServiceClient\ntry:\n    ServiceClient({str(team.sock)!r})\n"
            "except Exception as e:\n    print('REFUSED', type(e).__name__, e)",
            gid=20099,
        )
        assert "REFUSED PermissionDeniedError" in outsider.stdout and f"group {GROUP_ID}" not in outsider.stderr
        assert "may use it" in outsider.stdout or "ask the admin" in outsider.stdout

        home = team.shared / "home-20002"
        home.mkdir(mode=0o700)
        os.chown(home, 20002, GROUP_ID)
        admin = as_user(
            20002,
            f"""
import os
os.umask(0o077)
from store.service.client import ServiceClient
c = ServiceClient({str(team.sock)!r})
print(c.export('d', {str(home / "answers.parquet")!r}, store.types.ExportOptions('annotations')))
""",
        )
        assert admin.stdout.split() == ["1"], admin.stderr
        exported = (home / "answers.parquet").stat()
        assert (exported.st_uid, exported.st_mode & 0o777) == (20002, 0o600)
        import pyarrow.parquet as pq

        assert pq.read_table(home / "answers.parquet").column("comment").to_pylist() == ["my secret comment"]
    finally:
        stop(service)


@needs_root
def test_serve_refuses_a_store_open_to_others_and_says_how_to_fix_it(team):
    seeded_store(team, 1, 1)
    team.store.chmod(0o660)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rlhf_tui.cli",
            "serve",
            "--store",
            str(team.store),
            "--group",
            str(GROUP_ID),
            "--socket",
            str(team.sock),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"chmod 600 {team.store}" in result.stderr and "Traceback" not in result.stderr
    team.store.chmod(0o600)
    team.store.parent.chmod(0o755)
    check = subprocess.run(
        [
            sys.executable,
            "-m",
            "rlhf_tui.cli",
            "serve",
            "--check",
            "--store",
            str(team.store),
            "--group",
            str(GROUP_ID),
            "--socket",
            str(team.sock),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 1 and f"chmod 700 {team.store.parent}" in check.stdout, check.stdout


@needs_root
def test_identity_comes_from_the_kernel_and_admin_rights_are_enforced(team):
    seeded_store(team, 4, 1)
    sock = str(team.sock)
    service = start_service(team, "--admin", "uid-20002")
    try:
        impostor = as_user(
            20001,
            f"""
from store.service.client import ServiceClient
from store.types import AnnotationInput
c = ServiceClient({sock!r})
me = c.whoami()['user']
record = c.next_records('d', me)[0]
c.save_annotation(AnnotationInput(record.id, me, 'submitted', (1, 2, 3)))
for attempt in (lambda: c.save_annotation(AnnotationInput(record.id, 'root', 'submitted', (1, 2, 3))),
                lambda: c.get_annotation(record.id, 'root'),
                lambda: c.import_file({str(team.shared / "data.jsonl")!r}, dataset='d'),
                lambda: c.export('d', {str(team.shared / "leak.parquet")!r}, store.types.ExportOptions('annotations')),
                lambda: c.submitted_rankings('d')):
    try:
        attempt()
        print('ALLOWED')
    except Exception as e:
        print(type(e).__name__, '|', e)
""",
        )
        lines = impostor.stdout.strip().splitlines()
        assert impostor.returncode == 0, impostor.stderr
        assert len(lines) == 5 and all(line.startswith("PermissionDeniedError |") for line in lines), lines
        assert "you are connected as uid-20001; you cannot act as root" in lines[0]
        assert "import is for admins, and uid-20001 is not one" in lines[2]
        assert not (team.shared / "leak.parquet").exists()

        admin = as_user(
            20002,
            f"""
from store.service.client import ServiceClient
c = ServiceClient({sock!r})
print(c.whoami())
print(c.import_file({str(team.shared / "data.jsonl")!r}, dataset='d2').added)
""",
        )
        assert admin.stdout.splitlines() == ["{'user': 'uid-20002', 'admin': True}", "4"], admin.stderr
    finally:
        stop(service)
    with open_store(team.store) as s:
        assert [(c.annotator, c.count) for c in s.status_counts("d")] == [("uid-20001", 1)]


@needs_root
def test_internal_arguments_and_unbounded_requests_are_refused(team):
    seeded_store(team, 3, 1)
    service = start_service(team)
    try:
        probe = as_user(
            20001,
            f"""
import json, socket
s = socket.socket(socket.AF_UNIX); s.connect({str(team.sock)!r}); r = s.makefile('rb')
hello = json.loads(r.readline())['hello']
def ask(op, **params):
    s.sendall(json.dumps({{'id': 1, 'op': op, 'params': params}}).encode() + b'\\n')
    reply = json.loads(r.readline())
    print(op, reply.get('error', {{}}).get('type', 'OK'), reply.get('error', {{}}).get('message', ''))
me = hello['user']
ask('next_records', dataset='d', annotator=me, now='2999-01-01T00:00:00')
ask('next_records', dataset='d', annotator=None)
ask('next_records', dataset='d', annotator=me, limit=100000)
ask('get_records', record_ids=[1] * 1000)
ask('save_annotation', record_id=1, annotator=me, status='submitted', ranks=[True, 2, 3])
ask('save_annotation', record_id=1, annotator=me, status='submitted', ranks=[1, 2, 3], seconds_spent=float('nan'))
ask('save_annotation', record_id=1, annotator=me, status='submitted', ranks=[1, 2, 3], comment={{'a': 1}})
ask('export_rows', dataset='d', fmt='preference')
ask('__init__')
ask('next_records', dataset='d', annotator=me)
""",
        )
        lines = probe.stdout.splitlines()
        assert probe.returncode == 0, probe.stderr
        assert lines[0].startswith("next_records InvalidInputError next_records takes no parameter 'now'")
        assert lines[1].startswith("next_records InvalidInputError next_records: annotator may not be null")
        assert lines[2].startswith("next_records InvalidInputError next_records: limit must be between 1 and 20")
        assert lines[3].startswith("get_records InvalidInputError get_records: record_ids lists 1,000 items")
        assert lines[4].startswith("save_annotation InvalidInputError save_annotation: ranks must be a whole number")
        assert lines[5].startswith("save_annotation InvalidInputError save_annotation: seconds_spent must be a finite")
        assert lines[6].startswith("save_annotation InvalidInputError save_annotation: comment must be text")
        assert lines[7].startswith(
            "export_rows PermissionDeniedError reading training data (export, train --dataset) is for admins"
        )
        assert lines[8].startswith("__init__ InvalidInputError the store service has no operation")
        assert lines[9] == "next_records OK "
    finally:
        stop(service)
    with open_store(team.store) as s:
        assert s.status_counts("d") == []


@needs_root
def test_huge_requests_leave_the_service_memory_bounded_and_others_served(team):
    seeded_store(team, 3, 1)
    service = start_service(team)
    try:
        before = rss_mib(service.pid)
        flood = as_user(
            20001,
            f"""
import json, socket
s = socket.socket(socket.AF_UNIX); s.connect({str(team.sock)!r}); r = s.makefile('rb'); r.readline()
s.sendall(json.dumps({{'id': 1, 'op': 'get_records', 'params': {{'record_ids': [1] * 1_000_000}}}}).encode() + b'\\n')
print(json.loads(r.readline())['error']['message'][:60])
t = socket.socket(socket.AF_UNIX); t.connect({str(team.sock)!r}); tr = t.makefile('rb'); tr.readline()
chunk = b'x' * (1 << 20)
sent = 0
try:
    while sent < 100 << 20:
        t.sendall(chunk)
        sent += len(chunk)
except OSError:
    pass
print('sent MiB', sent >> 20, 'reply', tr.readline()[:80])
""",
        )
        assert flood.returncode == 0, flood.stderr
        assert "record_ids lists 1,000,000 items" in flood.stdout
        assert "request over 4 MiB" in flood.stdout
        grown = rss_mib(service.pid) - before
        assert grown < 150, f"the service grew by {grown:.0f} MiB"
        other = as_user(
            20002,
            f"from store.service.client import ServiceClient\nc = ServiceClient({str(team.sock)!r})\n"
            "print(len(c.next_records('d', c.user)))",
        )
        assert other.stdout.strip() == "1", other.stderr
    finally:
        stop(service)


@needs_root
def test_two_thousand_idle_connections_of_one_user_do_not_lock_out_another(team):
    seeded_store(team, 20, 1)
    service = start_service(team)
    try:
        hog = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"""
import socket, sys, time
from benchmarks.loadgen import drop_privileges; drop_privileges(20001, {GROUP_ID})
held, refused = [], 0
for _ in range(2000):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    try:
        s.connect({str(team.sock)!r})
        first = s.makefile('rb').readline()
    except OSError:
        refused += 1
        s.close()
        continue
    if b'error' in first:
        refused += 1
        s.close()
    else:
        held.append(s)
print('held', len(held), 'refused', refused, flush=True)
time.sleep(60)
""",
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = hog.stdout.readline().split()
        assert line[0] == "held" and 0 < int(line[1]) <= 64 and int(line[3]) >= 1900, line
        worker = as_user(
            20002,
            f"""
from store.service.client import ServiceClient
from store.types import AnnotationInput
c = ServiceClient({str(team.sock)!r}, reconnect_timeout=5)
for _ in range(10):
    r = c.next_records('d', c.user)[0]
    c.save_annotation(AnnotationInput(r.id, c.user, 'submitted', (1, 2, 3)))
print('done', c.progress('d', c.user).submitted)
""",
        )
        assert worker.stdout.strip() == "done 10", worker.stderr
        hog.kill()
        hog.wait()
    finally:
        stop(service)


@needs_root
def test_idle_connections_are_closed_and_the_client_reconnects(team):
    seeded_store(team, 3, 1)
    service = start_service(team, "--idle-timeout", "1")
    try:
        c = ServiceClient(team.sock)
        assert len(c.list_datasets()) == 1
        time.sleep(3)  # the service closes the idle connection; the next call reconnects
        assert len(c.list_datasets()) == 1
        c.close()
    finally:
        stop(service)


@needs_root
def test_a_request_trickled_in_a_byte_at_a_time_does_not_hold_its_connection_open(team):
    seeded_store(team, 3, 1)
    service = start_service(team, "--idle-timeout", "1")
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(team.sock))
        reader = s.makefile("rb")
        reader.readline()
        closed = False
        for byte in b'{"id": 1, "op": "list_datasets", "params": {}}' * 4:  # never a whole line
            try:
                s.sendall(bytes([byte]))  # each byte is activity by the idle rule alone
            except OSError:
                closed = True
                break
            if select.select([s], [], [], 0.1)[0] and s.recv(1) == b"":
                closed = True
                break
        assert closed, "the service kept a connection open for a request line that never ends"
        reader.close()
        s.close()
    finally:
        stop(service)


@needs_root
def test_many_clients_with_kills_lose_nothing_and_count_nothing_twice(team):
    """8 clients x 200 submissions, K = 2; clients SIGKILLed and restarted at random, and the
    service SIGKILLed and restarted once: every acknowledged submission is stored exactly once."""
    clients, per_client, k = 8, 200, 2
    store_path = seeded_store(team, 1000, k)
    sock = team.sock
    shared_dir = team.shared
    rng = random.Random(7)

    def launch(i: int) -> subprocess.Popen:
        log = shared_dir / f"ack-{i}.log"
        if not log.exists():
            log.touch()
            os.chown(log, 20001 + i, GROUP_ID)
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.loadgen",
                "--socket",
                str(sock),
                "--dataset",
                "d",
                "--count",
                str(per_client),
                "--ack-log",
                str(log),
                "--seed",
                str(i),
                "--as-uid",
                str(20001 + i),
                "--as-gid",
                str(GROUP_ID),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    service = start_service(team)
    procs = {i: launch(i) for i in range(clients)}
    kills = service_restarted = 0
    deadline = time.monotonic() + 240
    try:
        while any(p.poll() is None for p in procs.values()) and time.monotonic() < deadline:
            time.sleep(rng.uniform(0.2, 0.6))
            acked = sum(len((shared_dir / f"ack-{i}.log").read_text().splitlines()) for i in range(clients))
            if not service_restarted and acked > clients * per_client // 3:
                service.kill()
                service.wait()
                service = start_service(team)
                service_restarted = 1
            elif kills < 6 and rng.random() < 0.4:
                i = rng.choice([i for i, p in procs.items() if p.poll() is None] or [0])
                if procs[i].poll() is None:
                    procs[i].kill()
                    procs[i].wait()
                    kills += 1
                    procs[i] = launch(i)
        for i, p in procs.items():
            p.wait(timeout=max(1, deadline - time.monotonic()))
            assert p.returncode == 0, f"client {i}: {p.stderr.read()}"
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
        stop(service)

    acknowledged = {}
    for i in range(clients):
        for line in (shared_dir / f"ack-{i}.log").read_text().splitlines():
            client_id, record_id = line.split()
            acknowledged[client_id] = (f"uid-{20001 + i}", int(record_id))
    assert kills >= 1 and service_restarted
    assert len(acknowledged) == clients * per_client
    con = duckdb.connect(str(store_path), read_only=True)
    stored = con.execute(
        "SELECT client_id, annotator, record_id FROM annotations WHERE status = 'submitted'"
    ).fetchall()
    amendments = con.execute("SELECT count(*) FROM annotation_history").fetchall()[0][0]
    per_record = dict(
        con.execute(
            "SELECT record_id, count(*) FROM annotations WHERE status = 'submitted' GROUP BY record_id"
        ).fetchall()
    )
    con.close()
    stored_ids = [row[0] for row in stored]
    assert len(stored_ids) == len(set(stored_ids)) and amendments == 0, "a submission was counted twice"
    by_id = {row[0]: (row[1], row[2]) for row in stored}
    missing = [cid for cid in acknowledged if cid not in by_id]
    assert not missing, f"{len(missing)} acknowledged submissions are not in the store"
    assert all(by_id[cid] == who_what for cid, who_what in acknowledged.items())
    with open_store(store_path) as s:
        over = s.overfilled_records("d")
    assert sum(1 for n in per_record.values() if n > k) == over
    assert over == 0  # no holder outlived its lease here


@needs_root
def test_client_waits_for_a_restarted_service_and_reports_it(team):
    import threading

    seeded_store(team, 3, 1)
    sock = team.sock
    service = start_service(team)
    client = ServiceClient(sock, reconnect_timeout=None)
    changes = []
    client.on_connection_change = changes.append
    try:
        assert [d.name for d in client.list_datasets()] == ["d"]
        service.kill()
        service.wait()
        result = {}
        call = threading.Thread(target=lambda: result.setdefault("datasets", client.list_datasets()))
        call.start()
        time.sleep(1.0)
        assert call.is_alive() and changes == [False]  # waiting, not failing
        service = start_service(team)
        call.join(timeout=30)
        assert [d.name for d in result["datasets"]] == ["d"] and changes == [False, True]
    finally:
        client.close()
        stop(service)


@needs_root
def test_annotating_as_someone_else_is_refused_in_one_line_with_a_non_zero_exit(team):
    seeded_store(team, 2, 1)
    service = start_service(team)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "rlhf_tui.cli", "annotate", "--store", str(team.sock), "--annotator", "bob"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            "error: you are connected to the store service as root; you cannot annotate as bob "
            "(the service takes your name from the operating system)"
        ]
    finally:
        stop(service)


@needs_root
def test_two_annotators_with_k2_through_the_service_agree_on_their_first_records(team):
    seeded_store(team, 10, 2)
    service = start_service(team, "--admin", "uid-20003")
    try:
        for uid, ranks in ((20001, (1, 2, 3)), (20002, (1, 3, 2))):
            done = as_user(
                uid,
                f"""
from store.service.client import ServiceClient
from store.types import AnnotationInput
c = ServiceClient({str(team.sock)!r})
for _ in range(3):
    (r,) = c.next_records('d', c.user)
    c.save_annotation(AnnotationInput(r.id, c.user, 'submitted', {ranks!r}))
print(c.find_record('d', 'r0') is not None, c.find_record('d', 'r9'))
""",
            )
            assert done.stdout.split() == ["True", "None"], done.stderr  # only records they answered
        lead = as_user(
            20003,
            f"""
from store.service.client import ServiceClient
from store.types import ReviewInput
from store.stats.agreement import compute_agreement
c = ServiceClient({str(team.sock)!r})
report = compute_agreement('rank', c.submitted_rankings('d'))
print(report.records_compared, sorted({{r for r, _, _, _ in c.submitted_rankings('d')}}) == c.record_ids('d')[:3])
queue = c.review_queue('d')
saved = c.save_review(ReviewInput(queue[0].record_id, 'whoever', (), accepted_from='uid-20001'))
print(saved.reviewer, saved.ranks, len(c.team_activity('d')))
""",
        )
        assert lead.stdout.split() == ["3", "True", "uid-20003", "(1,", "2,", "3)", "2"], lead.stderr
        refused = as_user(
            20001,
            f"""
from store.service.client import ServiceClient
c = ServiceClient({str(team.sock)!r})
try:
    c.review_queue('d')
except Exception as e:
    print(type(e).__name__, e)
""",
        )
        assert refused.stdout.startswith("PermissionDeniedError review is for admins, and uid-20001 is not one")
    finally:
        stop(service)


def _serve_once(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rlhf_tui.cli", "serve", *args], cwd=REPO, capture_output=True, text=True, timeout=60
    )


@needs_root
def test_a_socket_folder_others_can_write_is_refused_by_serve_and_by_clients(team):
    seeded_store(team, 1, 1)
    shared_run = team.shared / "open"
    shared_run.mkdir(mode=0o770)
    os.chown(shared_run, 0, GROUP_ID)
    shared_run.chmod(0o770)
    refused = _serve_once("--store", str(team.store), "--group", str(GROUP_ID), "--socket", str(shared_run / "t.sock"))
    assert refused.returncode == 1 and "can be written by others" in refused.stderr, refused.stderr

    # A member plants a socket of their own in a folder they can write; root's client will not talk to it.
    planted = team.shared / "planted"
    planted.mkdir(mode=0o777)
    planted.chmod(0o777)
    fake = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"""
import json, socket, time
from benchmarks.loadgen import drop_privileges; drop_privileges(20001, {GROUP_ID})
s = socket.socket(socket.AF_UNIX); s.bind({str(planted / "t.sock")!r}); s.listen(4)
print('ready', flush=True)
c, _ = s.accept()
c.settimeout(5)
try:
    c.sendall(json.dumps({{'hello': {{'user': 'root', 'admin': True, 'protocol': 1}}}}).encode() + b'\\n')
    print('GOT', c.recv(65536), flush=True)
except OSError:
    print('nothing sent', flush=True)
""",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert fake.stdout.readline().strip() == "ready"
        with pytest.raises(PermissionDeniedError, match="can be written by others"):
            ServiceClient(planted / "t.sock", connect_timeout=3)
        assert fake.stdout.readline().strip() in ("nothing sent", "GOT b''")  # closed before sending a byte
    finally:
        fake.kill()
        fake.wait()

    # A socket whose file someone else owns is refused too (the server must own its socket).
    private = team.shared / "private"
    private.mkdir(mode=0o755)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(private / "t.sock"))
    listener.listen(1)
    os.chown(private / "t.sock", 20001, GROUP_ID)
    try:
        with pytest.raises(PermissionDeniedError, match="not by its owner"):
            ServiceClient(private / "t.sock", connect_timeout=3)
    finally:
        listener.close()


@needs_root
def test_a_symlinked_store_or_a_store_folder_others_can_write_is_refused(team):
    seeded_store(team, 1, 1)
    public = team.shared / "pub"
    public.mkdir(mode=0o770)
    public.chmod(0o770)
    (public / "team.duckdb").symlink_to(team.store)
    linked = _serve_once("--store", str(public / "team.duckdb"), "--socket", str(team.shared / "run2" / "t.sock"))
    assert linked.returncode == 1
    assert "is a symbolic link" in linked.stderr and "can be written by others" in linked.stderr, linked.stderr
    assert not (public / "team.duckdb.service").exists()


def big_store(team: Team, n: int, text_bytes: int) -> Path:
    rows = [{"id": f"b{i}", "prompt": f"q{i}", "responses": ["x" * text_bytes, "y" * text_bytes]} for i in range(n)]
    with open_store(team.store) as s:
        s.import_file(write_jsonl(team.shared / "big.jsonl", rows), dataset="d")
    return team.store


@needs_root
def test_a_client_that_never_reads_its_replies_cannot_grow_the_service(team):
    big_store(team, 64, 200_000)
    service = start_service(team)
    try:
        before = rss_mib(service.pid)
        hog = as_user(
            20001,
            f"""
import json, socket, time
s = socket.socket(socket.AF_UNIX)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect({str(team.sock)!r}); s.makefile('rb').readline()
line = json.dumps({{'id': 1, 'op': 'get_records', 'params': {{'record_ids': list(range(1, 65))}}}}).encode() + b'\\n'
s.setblocking(False)
sent, t0 = 0, time.monotonic()
while time.monotonic() - t0 < 6:
    try:
        s.send(line); sent += 1
    except BlockingIOError:
        time.sleep(0.01)
    except OSError:
        break
print('sent', sent)
""",
        )
        assert hog.returncode == 0, hog.stderr
        grown = rss_mib(service.pid) - before
        assert grown < 400, f"the service grew by {grown:.0f} MiB for a client that never reads"
        other = as_user(
            20002,
            f"from store.service.client import ServiceClient\nc = ServiceClient({str(team.sock)!r})\nprint(len(c.get_records([1, 2])))",
        )
        assert other.stdout.strip() == "2", other.stderr
    finally:
        stop(service)


@needs_root
def test_one_user_hoarding_replies_over_many_connections_cannot_grow_the_service(team):
    big_store(team, 64, 450_000)  # 64 records: a 58 MB reply
    service = start_service(team)
    try:
        warm = ServiceClient(team.sock)
        assert len(warm.get_records(list(range(1, 65)))) == 64  # the records are in the service's cache now
        warm.close()
        before = rss_mib(service.pid)
        hog = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"""
from benchmarks.loadgen import drop_privileges; drop_privileges(20001, {GROUP_ID})
import json, socket, time
line = json.dumps({{'id': 1, 'op': 'get_records', 'params': {{'record_ids': list(range(1, 65))}}}}).encode() + b'\\n'
held = []
for _ in range(16):  # each asks for 58 MB and never reads it
    s = socket.socket(socket.AF_UNIX); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect({str(team.sock)!r}); s.recv(200); s.sendall(line); held.append(s)
print('asked', flush=True)
time.sleep(60)
""",
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert hog.stdout.readline().strip() == "asked"
            grown = 0.0
            for _ in range(40):  # the replies are built within seconds; keep the largest figure
                grown = max(grown, rss_mib(service.pid) - before)
                time.sleep(0.2)
            # Per connection, 16 replies of 58 MB would wait in the service (over 900 MB).
            assert grown < 450, f"the service grew by {grown:.0f} MiB for one user's unread replies"
            other = as_user(
                20002,
                f"from store.service.client import ServiceClient\nc = ServiceClient({str(team.sock)!r})\n"
                "print(len(c.get_records([1, 2])))",
            )
            assert other.stdout.strip() == "2", other.stderr
        finally:
            hog.kill()
            hog.wait()
    finally:
        stop(service)


@needs_root
def test_repeated_ids_and_replies_over_the_limit_are_refused_before_the_reply_is_built(team):
    big_store(team, 2, 900_000)
    service = start_service(team)
    try:
        probe = as_user(
            20001,
            f"""
import json, socket
from store.service.client import ServiceClient
s = socket.socket(socket.AF_UNIX); s.connect({str(team.sock)!r}); r = s.makefile('rb'); r.readline()
s.sendall(json.dumps({{'id': 1, 'op': 'get_records', 'params': {{'record_ids': [1] * 64}}}}).encode() + b'\\n')
print(json.loads(r.readline())['error']['message'])
c = ServiceClient({str(team.sock)!r})
print([rec.id for rec in c.get_records([1, 1, 2, 1])])  # the client asks once per record and repeats locally
""",
        )
        lines = probe.stdout.splitlines()
        assert lines[0] == "get_records: record_ids lists a record twice", probe.stderr
        assert lines[1] == "[1, 1, 2, 1]"
    finally:
        stop(service)


@needs_root
def test_text_that_is_not_valid_utf8_is_refused_up_front(team):
    seeded_store(team, 2, 1)
    service = start_service(team)
    try:
        probe = as_user(
            20001,
            f"""
import json, socket
s = socket.socket(socket.AF_UNIX); s.connect({str(team.sock)!r}); r = s.makefile('rb'); me = json.loads(r.readline())['hello']['user']
def ask(op, **params):
    s.sendall(json.dumps({{'id': 1, 'op': op, 'params': params}}).encode() + b'\\n')
    reply = json.loads(r.readline())
    print(reply.get('error', {{}}).get('type', 'OK'), reply.get('error', {{}}).get('message', ''))
ask('save_annotation', record_id=1, annotator=me, status='submitted', ranks=[1, 2, 3], comment='\\ud800')
ask('find_record', dataset='d', external_id='\\ud800')
""",
        )
        lines = probe.stdout.splitlines()
        assert lines == [
            "InvalidInputError save_annotation: comment is not valid text (it holds half of a UTF-16 surrogate pair)",
            "InvalidInputError find_record: external_id is not valid text (it holds half of a UTF-16 surrogate pair)",
        ], probe.stdout + probe.stderr
        assert "Traceback" not in service_log(service)
    finally:
        stop(service)


def service_log(service: subprocess.Popen) -> str:
    """What the service has written to stderr so far (it keeps running)."""
    out = []
    while select.select([service.stderr], [], [], 0.2)[0]:
        chunk = os.read(service.stderr.fileno(), 65536)
        if not chunk:
            break
        out.append(chunk.decode(errors="replace"))
    return "".join(out)


@needs_root
def test_a_lease_held_by_another_connection_of_the_same_user_survives_a_disconnect(team):
    seeded_store(team, 3, 1)
    service = start_service(team)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"""
from benchmarks.loadgen import drop_privileges; drop_privileges(20001, {GROUP_ID})
import time
from store.service.client import ServiceClient
a = ServiceClient({str(team.sock)!r}); b = ServiceClient({str(team.sock)!r})
(r,) = a.next_records('d', a.user)
(again,) = b.next_records('d', b.user)  # b is handed the record a holds (the user's own lease)
a.close()  # a goes away; b still holds the record
time.sleep(0.5)
print(r.id == again.id, flush=True)
time.sleep(30)
""",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "True"
        other = as_user(
            20002,
            f"from store.service.client import ServiceClient\nc = ServiceClient({str(team.sock)!r})\n"
            "print(sorted(x.id for x in c.next_records('d', c.user, limit=3)))",
        )
        assert other.stdout.strip() == "[2, 3]", other.stdout + other.stderr  # record 1 is still held by uid-20001
    finally:
        holder.kill()
        holder.wait()
        stop(service)


@needs_root
def test_annotators_do_not_see_who_wrote_a_promoted_answer(team):
    with open_store(team.store) as s:
        s.import_file(write_jsonl(team.shared / "w.jsonl", rank_rows(1, k=2)), dataset="d", annotators_per_record=2)
        s.update_dataset("d", settings={"written_answers": True, "show_written": True})
        (record,) = s.next_records("d", "root")
        s.save_annotation(store.types.AnnotationInput(record.id, "expert", "submitted", (1, 2), written="mine"))
        s.promote_written("d")
    service = start_service(team)
    try:
        member = as_user(
            20001,
            f"from store.service.client import ServiceClient\nc = ServiceClient({str(team.sock)!r})\n"
            "print([x.source for x in c.get_records([1])[0].candidates])",
        )
        assert member.stdout.strip() == "[None, None, 'written']", member.stderr
        admin = ServiceClient(team.sock)
        assert [x.source for x in admin.get_records([1])[0].candidates][-1] == "written:expert"
        admin.close()
    finally:
        stop(service)


def test_get_records_over_the_reply_limit_is_refused_before_the_reply_is_built(tmp_path, monkeypatch):
    from store.errors import InvalidInputError
    from store.service import operations as protocol
    from store.service.server import ConnectionState, StoreService

    rows = [{"id": f"r{i}", "prompt": "q", "responses": ["é" * 3000, "b"]} for i in range(2)]
    with open_store(tmp_path / "s.duckdb") as s:
        s.import_file(write_jsonl(tmp_path / "r.jsonl", rows), dataset="d")
        service = StoreService(s, set(), tmp_path)
        conn = ConnectionState("ann", is_admin=False)
        monkeypatch.setattr(protocol, "MAX_REPLY_BYTES", 10_000)  # two records: 12,000 bytes of text (é is 2 bytes)
        assert len(service.call(conn, "get_records", {"record_ids": [1]})) == 1
        with pytest.raises(InvalidInputError, match="over the reply limit"):
            service.call(conn, "get_records", {"record_ids": [1, 2]})


@needs_root
def test_uncertain_queue_follows_scores_saved_through_the_service_without_restarting_the_annotator(team):
    with open_store(team.store) as s:
        s.import_file(write_jsonl(team.shared / "data.jsonl", rank_rows(6, k=3)), dataset="d")
        s.update_dataset("d", settings={"assignment": "uncertain"})
        ids = s.record_ids("d")
    service = start_service(team, "--admin", "uid-20003")
    # One annotator client for the whole test: each line on its stdin asks for the next record.
    annotator = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, store.connect\n"  # imported before dropping privileges, as as_user does
            "from store.service.client import ServiceClient\n"
            "from store.types import AnnotationInput\n"
            "from benchmarks.loadgen import drop_privileges; drop_privileges(20001, 20000)\n"
            f"c = ServiceClient({str(team.sock)!r})\n"
            "for line in sys.stdin:\n"
            "    (r,) = c.next_records('d', c.user)\n"
            "    c.save_annotation(AnnotationInput(r.id, c.user, 'submitted', (1, 2, 3)))\n"
            "    print(r.id, c.queue_info('d').describe(), flush=True)\n",
        ],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def next_record() -> tuple[int, str]:
        annotator.stdin.write("next\n")
        annotator.stdin.flush()
        record_id, said = annotator.stdout.readline().split(" ", 1)
        return int(record_id), said.strip()

    def save_scores(margins: list[float]) -> None:
        rows = [(i, j, s) for i, m in zip(ids, margins) for j, s in ((0, 5.0), (1, 5.0 - m), (2, -9.0))]
        # Pages of 4 rows: the queue is ordered once, after the last page.
        done = as_user(
            20003,
            "from store.service import operations\noperations.MAX_PAGE = 4\n"
            f"from store.service.client import ServiceClient\nc = ServiceClient({str(team.sock)!r})\n"
            f"print(c.save_scores('rm', {rows!r}))\n",
        )
        assert done.stdout.split() == [str(len(rows))], done.stderr

    try:
        assert next_record() == (ids[0], "uncertain (nothing scored yet: import order)")
        save_scores([9.0, 3.0, 2.0, 0.1, 1.0, 0.5])
        first, said = next_record()
        assert first == ids[3] and said.startswith("uncertain by rm (6 scored, last ")
        assert next_record()[0] == ids[5]
        save_scores([9.0, 0.3, 2.0, 9.0, 0.2, 9.0])  # a retrained model, between rounds
        assert [next_record()[0] for _ in range(3)] == [ids[4], ids[1], ids[2]]
        refused = raw_scores_as_annotator(team, ids[0]).splitlines()
        assert refused[0].startswith("PermissionDeniedError score is for admins"), refused
        assert refused[1].startswith("PermissionDeniedError the reward model's suggestions in review is for admins")
        assert refused[2].startswith("PermissionDeniedError this dataset does not show the reward model's answer")
    finally:
        annotator.stdin.close()
        annotator.wait(timeout=30)
        stop(service)
    assert annotator.returncode == 0, annotator.stderr.read()


def raw_scores_as_annotator(team: Team, record_id: int) -> str:
    """An annotator who tries to save scores (and so reorder everyone's queue) or to read the model's
    scores of a record (anchoring) is refused, one line each."""
    done = as_user(
        20001,
        f"from store.service.client import ServiceClient\nc = ServiceClient({str(team.sock)!r})\n"
        f"for call in (lambda: c.save_scores('rm', [(1, 0, 1.0)]), lambda: c.record_scores({record_id}),\n"
        f"             lambda: c.model_after_submit({record_id}, c.user)):\n"
        "    try:\n        call()\n    except Exception as e:\n        print(type(e).__name__, e)\n",
    )
    return done.stdout.strip()
