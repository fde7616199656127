"""Shared fixtures: a fresh store per test and small data files written on the fly."""

from __future__ import annotations

import inspect
import json
import time
from pathlib import Path

import pytest

from store.connect import open_store

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DATA = REPO / "sample_data"


@pytest.fixture(autouse=True)
def _isolated_store_env(monkeypatch, tmp_path):
    # No test may touch ./rlhf.duckdb or a user's config.
    monkeypatch.setenv("RLHF_TUI_STORE", str(tmp_path / "env-store.duckdb"))
    monkeypatch.setenv("RLHF_TUI_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.fixture(autouse=True)
def _same_host_everywhere(monkeypatch):
    # The time zone (UTC) and the locale (C) are the suite's, not the machine's, for this process and every command a
    # test runs; a terminal size comes from the test (a pilot's size, a tmux pane), never from the caller's
    # COLUMNS/LINES, which would override the pane's.
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    for name in ("LC_ALL", "LC_CTYPE", "LC_MESSAGES", "LC_NUMERIC", "LC_TIME", "LANG", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)  # the C locale, whatever the caller's
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)
    yield
    time.tzset()


# The CPUs a test may run "on": the auto choice of --bf16/--4bit is made for the device described here,
# never for the host's /proc/cpuinfo or GPU, so no outcome depends on the machine running the suite.
HOST_DEVICES = {
    "cpu-with-bf16": dict(cuda=False, name="CPU", flags=frozenset({"avx2", "avx512f", "avx512_bf16"})),
    "cpu-without-bf16": dict(cuda=False, name="CPU", flags=frozenset({"avx2"})),
}


def pytest_generate_tests(metafunc):
    # A test that names `host_device` among its arguments runs once on each kind of CPU, whatever the real
    # one is (every other test gets the autouse default below).
    if "host_device" in inspect.signature(metafunc.function).parameters:
        metafunc.parametrize("host_device", list(HOST_DEVICES), indirect=True)


@pytest.fixture(autouse=True)
def host_device(request, monkeypatch):
    """The device `trainers.precision.detect_device` reports in this test (default: a CPU without bf16)."""
    from trainers import precision

    device = precision.Device(**HOST_DEVICES[getattr(request, "param", "cpu-without-bf16")])
    monkeypatch.setattr(precision, "detect_device", lambda: device)
    return device


@pytest.fixture
def store_path(tmp_path) -> Path:
    return tmp_path / "test.duckdb"


@pytest.fixture
def store(store_path):
    s = open_store(store_path)
    yield s
    s.close()


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def jsonl(tmp_path):
    """jsonl(rows, name='data.jsonl') writes rows as JSON lines and returns the path."""

    def make(rows: list, name: str = "data.jsonl") -> Path:
        return write_jsonl(tmp_path / name, rows)

    return make


def rank_rows(n: int, k: int = 4, prefix: str = "r") -> list[dict]:
    return [
        {"id": f"{prefix}{i}", "prompt": f"question {i}", "responses": [f"answer {i}.{j}" for j in range(k)]}
        for i in range(n)
    ]
