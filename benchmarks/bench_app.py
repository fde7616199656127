"""Benchmark of the annotation app on a store with 1,000,000 records.

Prints the start-up time (app created → first record on screen) and the latency
from the submitting keypress to the next record rendered, p50/p99 over 500
submissions. Goal: start-up ≤ 1.5 s, p99 ≤ 50 ms.

    .venv/bin/python benchmarks/bench_app.py [--records 1000000] [--submissions 500] [--dir /tmp/rlhf-tui-bench]

The store is built once (JSONL written by DuckDB, then `store.import_file`) and
reused by later runs; each run annotates as a new annotator.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rlhf_tui.app.app import AnnotationApp  # noqa: E402
from rlhf_tui.app.config import AppConfig  # noqa: E402
from store.connect import open_store  # noqa: E402

DATASET = "bench"


def build_store(directory: Path, records: int):
    """The benchmark store, built on first use: `records` rank records of 3 answers."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"bench-{records}.duckdb"
    if path.exists():
        return open_store(path)
    source = directory / f"bench-{records}.jsonl"
    started = time.perf_counter()
    duckdb.sql(
        f"""
        COPY (
            SELECT 'r' || i AS id,
                   'Question ' || i || ': explain why the sky looks blue, in two sentences.' AS prompt,
                   ['Rayleigh scattering of sunlight, answer A to ' || i,
                    'Because the sea reflects it, answer B to ' || i,
                    'Shorter wavelengths scatter more, answer C to ' || i] AS responses
            FROM range({records}) AS t(i)
        ) TO '{source}' (FORMAT json)
        """
    )
    store = open_store(path)
    store.create_dataset(DATASET, "rank", "# Rank the answers\nBest first.", 1)
    report = store.import_file(source, dataset=DATASET, task="rank")
    source.unlink()
    print(f"built {report.added:,} records in {time.perf_counter() - started:.1f} s", flush=True)
    return store


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def measure(store, submissions: int) -> tuple[float, list[float]]:
    from textual import events

    rendered = asyncio.Event()
    shown_at = [0.0]

    def on_rendered(record_id: int | None) -> None:
        shown_at[0] = time.perf_counter()
        rendered.set()

    started = time.perf_counter()
    app = AnnotationApp(store, f"bench-{os.getpid()}-{int(time.time())}", DATASET, AppConfig(prefetch=8))
    app.on_record_rendered = on_rendered
    latencies: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await asyncio.wait_for(rendered.wait(), 30)
        startup = shown_at[0] - started
        for _ in range(submissions):
            await pilot.press("1", "2")  # rank two of three (not timed); the third is ranked on submit
            rendered.clear()
            pressed = time.perf_counter()
            app.post_message(events.Key("enter", "\r"))
            await asyncio.wait_for(rendered.wait(), 30)
            latencies.append(shown_at[0] - pressed)
        await pilot.press("q")
        await app.jobs.wait_until_done()
    return startup, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--submissions", type=int, default=500)
    parser.add_argument("--dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "rlhf-tui-bench")
    args = parser.parse_args()
    store = build_store(args.dir, args.records)
    for name, call in [
        ("next_records(limit=8)", lambda: store.next_records(DATASET, "probe", limit=8)),
        ("progress", lambda: store.progress(DATASET, "probe")),
        ("answered_record_ids", lambda: store.answered_record_ids(DATASET, "probe")),
    ]:
        began = time.perf_counter()
        call()
        print(f"store.{name}: {1000 * (time.perf_counter() - began):.0f} ms")
    store.release_all_leases("probe")
    startup, latencies = asyncio.run(measure(store, args.submissions))
    ms = [1000 * value for value in latencies]
    print(f"records: {args.records:,}  submissions: {len(ms)}")
    print(f"start-up to first record shown: {startup:.3f} s (goal ≤ 1.5 s)")
    print(
        f"keypress → next record rendered: p50 {statistics.median(ms):.1f} ms, "
        f"p99 {percentile(ms, 0.99):.1f} ms, max {max(ms):.1f} ms (goal p99 ≤ 50 ms)"
    )
    store.close()


if __name__ == "__main__":
    main()
