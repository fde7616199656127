"""The store service: identity from the kernel, admin-only operations, and durability
under killed clients and a killed service. Clients run as other uids (root drops to
them after its imports), so these tests need root; CI runs as root."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pytest
from conftest import rank_rows, write_jsonl
from service_support import start_service as start_team_service
from service_support import stop

from store import connect_store, open_store
from store.client import ServiceClient

REPO = Path(__file__).resolve().parents[1]
GROUP_ID = 20000
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="clients as other users need root to drop to them")


@pytest.fixture
def shared_dir():
    # pytest's tmp dirs are private to root; other uids must reach the socket and their logs.
    path = Path(tempfile.mkdtemp(prefix="rlhf-service-"))
    path.chmod(0o777)
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


def start_service(store_path: Path, *extra: str) -> subprocess.Popen:
    return start_team_service(store_path, "--group", str(GROUP_ID), *extra)


def as_user(uid: int, code: str) -> subprocess.CompletedProcess:
    """Run `code` in a client process that drops to `uid` before it runs."""
    prelude = (
        "import sys, store, store.client, store.types\n"
        f"from store.loadgen import drop_privileges; drop_privileges({uid}, {GROUP_ID})\n"
    )
    return subprocess.run([sys.executable, "-c", prelude + code], cwd=REPO, capture_output=True, text=True, timeout=60)


def seeded_store(shared_dir: Path, n: int, k: int) -> Path:
    store_path = shared_dir / "team.duckdb"
    with open_store(store_path) as s:
        s.import_file(write_jsonl(shared_dir / "data.jsonl", rank_rows(n, k=3)), dataset="d", annotators_per_record=k)
    return store_path


def test_commands_use_the_service_while_it_runs(shared_dir):
    store_path = seeded_store(shared_dir, 3, 1)
    service = start_service(store_path)
    try:
        s = connect_store(store_path)
        assert isinstance(s, ServiceClient)
        assert s.whoami() == {"user": "root", "admin": True}
        assert [d.records for d in s.list_datasets()] == [3]
        s.close()
    finally:
        stop(service)
    assert not isinstance(connect_store(store_path), ServiceClient)  # file in-process once it is gone


@needs_root
def test_socket_and_store_are_for_the_group_only(shared_dir):
    store_path = seeded_store(shared_dir, 1, 1)
    service = start_service(store_path)
    try:
        sock = store_path.with_name(store_path.name + ".sock")
        for path in (sock, store_path):
            info = path.stat()
            assert (info.st_gid, info.st_mode & 0o777) == (GROUP_ID, 0o660), path
        code = f"from store.client import ServiceClient\ntry:\n    ServiceClient({str(sock)!r})\nexcept Exception as e:\n    print('REFUSED', e)"
        outsider = subprocess.run(
            [
                sys.executable,
                "-c",
                "import store.client, os\nos.setgroups([]); os.setgid(20099); os.setuid(20099)\n" + code,
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "REFUSED" in outsider.stdout and "Permission denied" in outsider.stdout
    finally:
        stop(service)


@needs_root
def test_identity_comes_from_the_kernel_and_admin_rights_are_enforced(shared_dir):
    store_path = seeded_store(shared_dir, 4, 1)
    sock = str(store_path.with_name(store_path.name + ".sock"))
    service = start_service(store_path, "--admin", "uid-20002")
    try:
        impostor = as_user(
            20001,
            f"""
from store.client import ServiceClient
from store.types import AnnotationInput
c = ServiceClient({sock!r})
me = c.whoami()['user']
record = c.next_records('d', me)[0]
c.save_annotation(AnnotationInput(record.id, me, 'submitted', (1, 2, 3)))
for attempt in (lambda: c.save_annotation(AnnotationInput(record.id, 'root', 'submitted', (1, 2, 3))),
                lambda: c.get_annotation(record.id, 'root'),
                lambda: c.import_file({str(shared_dir / "data.jsonl")!r}, dataset='d'),
                lambda: c.export('d', 'annotations', {str(shared_dir / "leak.parquet")!r}),
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
        assert "import file is for admins; uid-20001 is not one" in lines[2]
        assert not (shared_dir / "leak.parquet").exists()

        admin = as_user(
            20002,
            f"""
from store.client import ServiceClient
c = ServiceClient({sock!r})
print(c.whoami())
print(c.export('d', 'annotations', {str(shared_dir / "answers.parquet")!r}))
""",
        )
        assert admin.stdout.splitlines() == ["{'user': 'uid-20002', 'admin': True}", "1"], admin.stderr
    finally:
        stop(service)
    with open_store(store_path) as s:
        assert [(c.annotator, c.count) for c in s.status_counts("d")] == [("uid-20001", 1)]


@needs_root
def test_many_clients_with_kills_lose_nothing_and_count_nothing_twice(shared_dir):
    """8 clients x 200 submissions, K = 2; clients SIGKILLed and restarted at random, and the
    service SIGKILLed and restarted once: every acknowledged submission is stored exactly once."""
    clients, per_client, k = 8, 200, 2
    store_path = seeded_store(shared_dir, 1000, k)
    sock = store_path.with_name(store_path.name + ".sock")
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
                "store.loadgen",
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

    service = start_service(store_path)
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
                service = start_service(store_path)
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


def test_client_waits_for_a_restarted_service_and_reports_it(shared_dir):
    import threading

    store_path = seeded_store(shared_dir, 3, 1)
    sock = store_path.with_name(store_path.name + ".sock")
    service = start_service(store_path)
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
        service = start_service(store_path)
        call.join(timeout=30)
        assert [d.name for d in result["datasets"]] == ["d"] and changes == [False, True]
    finally:
        client.close()
        stop(service)
