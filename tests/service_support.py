"""Starting and stopping a real `rlhf-tui serve` process in tests (not collected)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from store.service.client import ServiceClient

REPO = Path(__file__).resolve().parents[1]


def start_service(store_path: Path, *extra: str) -> subprocess.Popen:
    """`rlhf-tui serve --store STORE EXTRA...`, returned once it answers on its socket
    (`--socket PATH` in EXTRA, else the default STORE.sock)."""
    sock = (
        Path(extra[extra.index("--socket") + 1])
        if "--socket" in extra
        else store_path.with_name(store_path.name + ".sock")
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlhf_tui.cli", "serve", "--store", str(store_path), *extra],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if sock.exists():
            try:
                ServiceClient(sock, connect_timeout=0.2).close()
                return proc
            except Exception:
                pass
        if proc.poll() is not None:
            raise AssertionError(f"service exited: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("service did not start within 30 s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
