"""The README's team set-up, run as written: the block under "Setting up a team server" and the
block that runs the service by hand, taken from README.md itself, so the README cannot drift from
what works. Then an annotator annotates over the socket and the admin exports into their home.

What differs from a real server, and only that: users, group and paths get names of their own (so
the test touches nothing of the machine's); `sudo -u USER` and `runuser -u USER -g GROUP --` are
tests/run_as.py (the interpreter may be private to root); the venv and link lines are left out (the
checkout under test is the installed rlhf-tui); and `systemctl` gives way to the README's own
by-hand block, whose `serve` must match the unit's ExecStart. Needs root (CI runs as root)."""

from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import REPO

README = REPO / "README.md"
RUN_AS = f"{shlex.quote(sys.executable)} {shlex.quote(str(REPO / 'tests' / 'run_as.py'))}"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("useradd") is None, reason="creates users and groups: needs root and useradd"
)


def team_blocks() -> tuple[str, str, str]:
    """(the set-up block, the by-hand block, the admin's export command) from the README."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("Setting up a team server (as root):") :]
    setup, by_hand = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)[:2]
    export = re.search(r"`(rlhf-tui export --store /run/rlhf-tui/team\.sock[^`]*)`", " ".join(section.split()))
    assert export is not None, "the README no longer shows how an admin exports over the socket"
    return setup, by_hand, export[1]


class Names:
    """Names of this run's own for the README's users, group and folders."""

    def __init__(self, root: Path):
        tag = uuid.uuid4().hex[:6]
        self.root = root
        self.group, self.service_user = f"rlhf{tag}", f"rlhfs{tag}"
        self.alice, self.bob = f"alice{tag}", f"bob{tag}"

    def localize(self, text: str) -> str:
        tokens = {
            "\0SRV\0": f"{self.root}/srv/rlhf",
            "\0RUN\0": f"{self.root}/run/rlhf-tui",
            "\0ETC\0": f"{self.root}/etc/",
            "\0STORE\0": self.service_user,
            "\0TUI\0": "rlhf-tui",
        }
        text = text.replace("/srv/rlhf", "\0SRV\0").replace("/run/rlhf-tui", "\0RUN\0")
        text = text.replace("/etc/systemd/system/", "\0ETC\0")
        text = re.sub(r"\brlhf-store\b", "\0STORE\0", text).replace("rlhf-tui", "\0TUI\0")
        text = re.sub(r"\brlhf\b", self.group, text)
        text = re.sub(r"\balice\b", self.alice, re.sub(r"\bbob\b", self.bob, text))
        for token, value in tokens.items():
            text = text.replace(token, value)
        return text


def as_run_by_hand(script: str) -> str:
    """The README's commands with `sudo -u` and `runuser` done by tests/run_as.py, and the install
    lines left out (the checkout under test is what is installed)."""
    lines = []
    for line in script.replace("\\\n", " ").splitlines():
        if line.startswith(("python3 -m venv", "ln -s ")):
            continue
        line = re.sub(r"^sudo -u (\S+) rlhf-tui ", rf"{RUN_AS} \1 -- rlhf-tui ", line)
        line = re.sub(r"^runuser -u (\S+) -g (\S+) -- rlhf-tui ", rf"{RUN_AS} \1:\2 -- rlhf-tui ", line)
        lines.append(line)
    return "\n".join(lines) + "\n"


def bash(script: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{script}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    return done


def serve_args(command: str) -> list[str]:
    words = shlex.split(command)
    return words[words.index("serve") :]


@pytest.fixture
def machine():
    root = Path(tempfile.mkdtemp(prefix="readme-team-"))
    root.chmod(0o755)
    names = Names(root)
    for folder in ("srv", "home", "work", "etc"):
        (root / folder).mkdir(mode=0o755)
    for user in (names.alice, names.bob):  # the annotators have accounts already
        subprocess.run(["useradd", "--home-dir", str(root / "home" / user), "--create-home", user], check=True)
    try:
        yield names
    finally:
        for user in (names.alice, names.bob, names.service_user):
            subprocess.run(["userdel", user], capture_output=True, check=False)
        subprocess.run(["groupdel", names.group], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


def test_the_readmes_team_set_up_works_as_written_and_a_team_annotates_and_exports(machine):
    names = machine
    setup, by_hand, export = (names.localize(part) for part in team_blocks())
    before_systemd, _, after = setup.partition("systemctl daemon-reload && systemctl enable --now rlhf-tui\n")
    assert after, "the README no longer starts the unit with systemctl"
    work = names.root / "work"
    rows = [{"id": f"p{i}", "prompt": f"Question {i}?", "responses": [f"a{i}", f"b{i}", f"c{i}"]} for i in range(3)]
    (work / "prompts.jsonl").write_text("".join(f"{json_line(r)}\n" for r in rows), encoding="utf-8")
    (work / "prompts.jsonl").chmod(0o644)

    bash(as_run_by_hand(before_systemd), work)  # users, group, folders, the import, the unit file
    unit = (names.root / "etc" / "rlhf-tui.service").read_text(encoding="utf-8")
    exec_start = re.search(r"^ExecStart=(.*)$", unit.replace("\\\n", " "), re.MULTILINE)
    assert exec_start is not None
    install_line, serve_line = (line for line in as_run_by_hand(by_hand).splitlines() if line)
    assert serve_args(serve_line) == serve_args(exec_start[1]), "the by-hand serve differs from the unit's"
    assert f"User={names.service_user}" in unit and f"Group={names.group}" in unit

    bash(install_line, work)
    service = subprocess.Popen(["bash", "-c", f"exec {serve_line}"], cwd=work, stderr=subprocess.PIPE, text=True)
    sock = names.root / "run" / "rlhf-tui" / "team.sock"
    try:
        wait_for(sock, service)
        check = bash(as_run_by_hand(after), work)  # serve --check as the service's user
        assert "no problems found" in check.stdout, check.stdout
        assert service.poll() is None, f"the service stopped: {service.stderr.read() if service.stderr else ''}"

        for annotator, ranks in ((names.alice, (1, 2, 3)), (names.bob, (3, 2, 1))):
            annotate = (
                "from store.service.client import ServiceClient\n"
                "from store.types import AnnotationInput\n"
                f"c = ServiceClient({str(sock)!r})\n"
                "(record,) = c.next_records('support', c.user, limit=1)\n"
                f"c.save_annotation(AnnotationInput(record.id, c.user, 'submitted', {ranks!r}))\n"
                "print(c.user, record.id)\n"
            )
            done = bash(f"{RUN_AS} {annotator} -- python {shlex.quote(annotate)}", work)
            assert done.stdout.split()[0] == annotator

        home = Path(pwd.getpwnam(names.alice).pw_dir)
        exported = bash(f"{RUN_AS} {names.alice} -- {export.replace('~/', f'{home}/')}", work)
        assert "wrote 6 preference rows" in exported.stdout, exported.stdout
        prefs = home / "prefs.parquet"
        assert prefs.stat().st_uid == pwd.getpwnam(names.alice).pw_uid  # the admin owns what they export
        table = pq.read_table(prefs).to_pylist()
        assert {r["annotator"] for r in table} == {names.alice, names.bob}
        store = names.root / "srv" / "rlhf" / "data" / "team.duckdb"
        assert store.stat().st_mode & 0o777 == 0o600
        assert store.stat().st_uid == pwd.getpwnam(names.service_user).pw_uid
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()


def json_line(row: dict) -> str:
    import json

    return json.dumps(row)


def wait_for(sock: Path, service: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if sock.exists():
            return
        if service.poll() is not None:
            raise AssertionError(f"the service exited: {service.stderr.read() if service.stderr else ''}")
        time.sleep(0.1)
    raise AssertionError("the service did not make its socket within 60 s")
