"""A team's first hour with `rlhf-tui serve` (issue 20): dataset operations over the socket for
admins only, someone outside the group told which group to join, a second `serve` told what is
already serving, and one wording for a service that does not answer. Other users are real uids
that a client process drops to, so these tests need root (CI runs as root)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from conftest import REPO, rank_rows, write_jsonl
from service_support import start_service, stop

from rlhf_tui.cli import main
from store import AnnotationInput
from store.connect import open_store

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="other users need root to drop to them")
ANNOTATOR_UID = 20001


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def as_user(uid: int, gid: int, *args: str) -> subprocess.CompletedProcess:
    """`rlhf-tui ARGS` in a process that drops to uid/gid after its imports (the checkout may be
    private to root)."""
    code = (
        "import os, sys\n"
        f"sys.path.insert(0, {str(REPO / 'tests')!r})\n"
        "import run_as; run_as.preload()\n"
        "from rlhf_tui.cli import main\n"
        f"os.setgroups([{gid}]); os.setgid({gid}); os.setuid({uid})\n"
        f"sys.exit(main({list(args)!r}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "RLHF_TUI_CONFIG": "/nonexistent/config.toml"}
    return subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def group():
    """A real Unix group of its own (its name is what an outsider is told)."""
    if shutil.which("groupadd") is None:
        pytest.skip("groupadd is not installed")
    name = f"rlhf-t{uuid.uuid4().hex[:8]}"
    subprocess.run(["groupadd", name], check=True)
    import grp

    yield name, grp.getgrnam(name).gr_gid
    subprocess.run(["groupdel", name], check=False)


@pytest.fixture
def team(group):
    """The README's layout: the store in a folder only the service's user (root) enters, the
    socket in a folder of its own for the group."""
    shared = Path(tempfile.mkdtemp(prefix="rlhf-first-hour-"))
    shared.chmod(0o755)
    (shared / "data").mkdir(mode=0o700)
    store = shared / "data" / "team.duckdb"
    sock = shared / "run" / "team.sock"
    with open_store(store) as s:
        s.import_file(write_jsonl(shared / "data" / "d.jsonl", rank_rows(3)), dataset="d")
        s.save_annotation(AnnotationInput(s.record_ids("d")[0], "ann", "submitted", (1, 2, 3, 4)))
    service = start_service(store, "--group", group[0], "--socket", str(sock))
    yield store, sock, service, group
    stop(service)
    shutil.rmtree(shared, ignore_errors=True)


@needs_root
def test_datasets_are_renamed_archived_and_deleted_over_the_service_by_admins_only(capsys, team):
    _store, sock, _service, (_name, gid) = team
    refused = as_user(ANNOTATOR_UID, gid, "datasets", "delete", "d", "-y", "-y", "--store", str(sock))
    assert refused.returncode == 1
    assert "deleting datasets is for admins, and uid-20001 is not one" in refused.stderr
    refused = as_user(ANNOTATOR_UID, gid, "datasets", "rename", "d", "e", "--store", str(sock))
    assert "renaming datasets is for admins" in refused.stderr
    target = str(sock)
    assert run(capsys, "datasets", "rename", "d", "support", "--store", target)[0] == 0
    assert run(capsys, "datasets", "archive", "support", "--store", target)[0] == 0
    listed = as_user(ANNOTATOR_UID, gid, "datasets", "--store", str(sock))
    assert listed.returncode == 0 and "support" not in listed.stdout  # gone from the annotators' pickers
    assert run(capsys, "datasets", "restore", "support", "--store", target)[0] == 0
    code, out, err = run(capsys, "datasets", "delete", "support", "-y", "--store", target)
    assert code == 1 and "removes 3 records, 12 candidates, 1 answers by 1 annotators" in out
    assert "give -y twice" in err
    code, out, _ = run(capsys, "datasets", "delete", "support", "-y", "-y", "--store", target)
    assert code == 0 and "deleted 'support'" in out
    assert "no datasets yet" in run(capsys, "datasets", "--all", "--store", target)[1]


@needs_root
def test_someone_outside_the_group_is_told_the_group_to_join(team):
    _store, sock, _service, (name, gid) = team
    outsider = as_user(20009, 20009, "annotate", "--store", str(sock))
    assert outsider.returncode == 1 and outsider.stdout == ""
    assert len(outsider.stderr.splitlines()) == 1, outsider.stderr
    (line,) = outsider.stderr.splitlines()
    assert f"only members of group {name} may enter {sock.parent}" in line
    assert f"ask an admin to run `usermod -aG {name} " in line and "then log in again" in line
    member = as_user(ANNOTATOR_UID, gid, "datasets", "--store", str(sock))
    assert member.returncode == 0 and "d" in member.stdout


@needs_root
def test_a_second_serve_on_a_served_store_names_the_service_already_serving_it(team, tmp_path):
    store, sock, service, _group = team
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    second = subprocess.run(
        [sys.executable, "-m", "rlhf_tui.cli", "serve", "--store", str(store), "--socket", str(other / "t.sock")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 1
    (line,) = second.stderr.splitlines()
    assert f"is already served by `rlhf-tui serve` (PID {service.pid}) on {sock}" in line
    assert f"use that service (--store {sock}), or stop it first" in line
    assert "start `rlhf-tui serve" not in line


@needs_root
def test_a_service_that_does_not_answer_is_one_wording_in_every_command_saying_what_to_do(capsys, team, tmp_path):
    store, sock, service, _group = team
    service.send_signal(signal.SIGKILL)
    service.wait()
    commands = (
        ["datasets"],
        ["stats", "-d", "d"],
        ["export", "-d", "d", "-o", str(tmp_path / "x.parquet")],
        ["annotate", "-d", "d"],
        ["review", "-d", "d"],
    )
    for args in commands:
        for target in (store, sock):
            code, out, err = run(capsys, *args, "--store", str(target))
            assert code == 1 and out == "", args
            (line,) = err.splitlines()
            assert line.startswith(f"error: the store service at {sock} is not answering ("), (args, line)
            assert "ask whoever runs it to start it again (on a team server `systemctl start rlhf-tui`" in line
