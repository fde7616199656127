"""End to end in a real terminal: tmux runs `rlhf-tui annotate` on a temp store,
keys rank two records and quit, and the store then holds exactly those two answers."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from app_support import arithmetic_rows, build_store

from store.connect import open_store

TMUX = shutil.which("tmux")
RLHF_TUI = Path(sys.executable).with_name("rlhf-tui")
pytestmark = [
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed (needed for the end-to-end terminal test)"),
    pytest.mark.skipif(not RLHF_TUI.exists(), reason=f"the rlhf-tui script is not installed next to {sys.executable}"),
]


def tmux(*args: str) -> str:
    return subprocess.run([TMUX, *args], check=True, capture_output=True, text=True, timeout=10).stdout


def wait_for_screen(session: str, needle: str, timeout: float = 20.0) -> str:
    """Poll the pane until `needle` shows (bounded); the screen text on success."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-p", "-t", session)
        if needle in screen:
            return screen
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} never appeared in the terminal; last screen:\n{screen}")


def wait_for_exit(session: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "app exited" in tmux("capture-pane", "-p", "-t", session):
            return
        time.sleep(0.1)
    raise AssertionError("the app did not quit")


def test_rank_two_records_in_tmux_and_quit(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(5, candidates=3))
    store.close()  # the app's process must be able to open the file
    session = f"rlhf-e2e-{uuid.uuid4().hex[:8]}"
    command = (
        f"{RLHF_TUI} annotate --store {tmp_path / 'store.duckdb'} --dataset d --annotator t; echo app exited; sleep 30"
    )
    tmux("new-session", "-d", "-s", session, "-x", "100", "-y", "30", command)
    try:
        wait_for_screen(session, "Question 0")
        tmux("send-keys", "-t", session, "2", "1", "Enter")
        wait_for_screen(session, "Question 1")
        tmux("send-keys", "-t", session, "3", "t", "1", "Enter")
        wait_for_screen(session, "Question 2")
        tmux("send-keys", "-t", session, "q")
        wait_for_exit(session)
    finally:
        subprocess.run([TMUX, "kill-session", "-t", session], capture_output=True, timeout=10)

    store = open_store(tmp_path / "store.duckdb")
    try:
        answers = {}
        for record_id in store.record_ids("d"):
            answer = store.get_annotation(record_id, "t")
            if answer is not None:
                answers[store.get_record(record_id).external_id] = answer
        assert set(answers) == {"r0", "r1"}
        assert all(a.status == "submitted" for a in answers.values())
        by_position = {ext: tuple(a.ranks[c] for c in a.shown_order) for ext, a in answers.items()}
        assert by_position == {"r0": (2, 1, 3), "r1": (1, 2, 1)}
    finally:
        store.close()
