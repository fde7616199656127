"""Benchmark of how fast `rlhf-tui` answers: each command as a fresh process, as a user runs it.

Prints, beside `python -c pass` (the floor: the interpreter and site start-up) and `python -c "import typer"`
(the CLI library alone), the wall time of `--help`, `--version`, a few subcommands' `--help`, `datasets`
on a store file and through the team service's socket, and the app's start-up (process start to the
first record on screen, headless). Cold: every module compiled afresh (an empty bytecode cache); warm:
the median of --runs runs with the cache filled. Goal: every --help <= 0.15 s warm.

With --baseline DIR (another checkout, e.g. `git worktree add /tmp/before f5b0e3a`), the same commands run
from that tree too, interleaved with this one's, and the table shows both and their ratio.

    .venv/bin/python benchmarks/bench_cli.py [--runs 15] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


GROUP_ID = 20000
RLHF_TUI = [sys.executable, "-m", "rlhf_tui.cli"]

# The app's start-up as a user sees it: a fresh process until the first record is on screen.
APP_STARTUP = """
import asyncio, sys
from rlhf_tui.app.app import AnnotationApp
from rlhf_tui.app.config import AppConfig
try:
    from store.connect import open_store
except ImportError:  # a checkout from before the store was laid out by concern
    from store import open_store

async def main():
    shown = asyncio.Event()
    store = open_store(sys.argv[1])
    app = AnnotationApp(store, "bench", "sample-rank", AppConfig())
    app.on_record_rendered = lambda record_id: shown.set()
    async with app.run_test(size=(120, 40)):
        await asyncio.wait_for(shown.wait(), 60)
    store.close()

asyncio.run(main())
"""


def timed(argv: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    done = subprocess.run(
        argv, cwd=env["PYTHONPATH"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[2:])} failed: {done.stderr.strip()[-300:]}")
    return elapsed


def cold_and_warm(argv: list[str], runs: int, trees: list[Path]) -> list[tuple[float, float] | None]:
    """(cold, warm) of `argv` run from each tree, the warm runs interleaved so that load hits all alike;
    None where the baseline fails it (no such command, or a service it cannot talk to)."""
    # as on a user's machine: bytecode is written (and so "warm" means read from the cache)
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    envs = [{**base, "PYTHONPATH": str(tree)} for tree in trees]
    if len(trees) > 1:
        probe = subprocess.run(argv, cwd=trees[1], env=envs[1], capture_output=True)
        if probe.returncode != 0:
            return [*cold_and_warm(argv, runs, trees[:1]), None]
    colds = []
    for env in envs:
        cache = tempfile.mkdtemp(prefix="rlhf-bench-pycache-")
        try:  # an empty cache folder of its own: every module, ours and the libraries', is compiled again
            colds.append(timed(argv, {**env, "PYTHONPYCACHEPREFIX": cache}))
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        timed(argv, env)  # fill the ordinary cache
    warms: list[list[float]] = [[] for _ in envs]
    for _ in range(runs):
        for samples, env in zip(warms, envs, strict=True):
            samples.append(timed(argv, env))
    return [(cold, statistics.median(samples)) for cold, samples in zip(colds, warms, strict=True)]


def start_service(store_path: Path, sock: Path) -> subprocess.Popen:
    command = [*RLHF_TUI, "serve", "--store", str(store_path), "--socket", str(sock)]
    if os.geteuid() == 0:
        command += ["--group", str(GROUP_ID)]
    service = subprocess.Popen(
        command, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.connect(str(sock))
            return service
        except Exception:
            if time.monotonic() > deadline:
                service.kill()
                raise SystemExit("the service did not start") from None
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="warm runs per command (the median is printed)")
    parser.add_argument("--baseline", type=Path, help="another checkout whose commands run beside this one's")
    args = parser.parse_args()
    trees = [REPO, *([args.baseline.resolve()] if args.baseline else [])]
    work = Path(tempfile.mkdtemp(prefix="rlhf-bench-cli-"))
    work.chmod(0o755)
    (work / "data").mkdir(mode=0o700)
    store_path = work / "data" / "bench.duckdb"
    subprocess.run(
        [*RLHF_TUI, "demo", "--no-app", "--store", str(store_path)], cwd=REPO, check=True, capture_output=True
    )
    cases: list[tuple[str, list[str]]] = [
        ("python -c pass (floor)", [sys.executable, "-c", "pass"]),
        ("python -c 'import typer'", [sys.executable, "-c", "import typer"]),
        ("rlhf-tui --help", [*RLHF_TUI, "--help"]),
        ("rlhf-tui --version", [*RLHF_TUI, "--version"]),
        ("rlhf-tui import --help", [*RLHF_TUI, "import", "--help"]),
        ("rlhf-tui annotate --help", [*RLHF_TUI, "annotate", "--help"]),
        ("rlhf-tui serve --help", [*RLHF_TUI, "serve", "--help"]),
        ("rlhf-tui train dpo --help", [*RLHF_TUI, "train", "dpo", "--help"]),
        ("rlhf-tui datasets (file)", [*RLHF_TUI, "datasets", "--store", str(store_path)]),
    ]
    results = [(name, cold_and_warm(argv, args.runs, trees)) for name, argv in cases]
    sock = work / "run" / "bench.sock"
    service = start_service(store_path, sock)
    try:
        socket_case = [*RLHF_TUI, "datasets", "--store", str(sock)]
        results.append(("rlhf-tui datasets (socket)", cold_and_warm(socket_case, args.runs, trees)))
    finally:
        service.terminate()
        service.wait()
    app_runs = max(3, args.runs // 3)
    app_case = [sys.executable, "-c", APP_STARTUP, str(store_path)]
    results.append(("app start-up to first record", cold_and_warm(app_case, app_runs, trees)))
    shutil.rmtree(work, ignore_errors=True)
    floor = results[0][1][0][1]  # type: ignore[index]
    header = f"{'command':30} {'cold s':>7} {'warm s':>7} {'- floor':>8}"
    if args.baseline:
        header += f" | {'baseline cold':>13} {'warm':>7} {'warm ratio':>10}"
    print(header)
    for name, timings in results:
        ours, *before = timings
        assert ours is not None
        cold, warm = ours
        line = f"{name:30} {cold:7.3f} {warm:7.3f} {warm - floor:8.3f}"
        if before and before[0] is not None:
            line += f" | {before[0][0]:13.3f} {before[0][1]:7.3f} {warm / before[0][1]:9.2f}x"
        elif before:
            line += f" | {'(fails there)':>33}"
        print(line)
    print(f"warm = median of {args.runs} runs ({app_runs} for the app); goal: every --help <= 0.150 s warm")
    if args.baseline:
        print(f"baseline: {args.baseline} (same interpreter and packages; ratio = this tree / baseline)")


if __name__ == "__main__":
    main()
