"""Benchmark of the `uncertain` strategy on a store with 1,000,000 records.

Prints how long `save_scores` takes for a reward model's scores of every candidate (3 per record),
how much of it is ordering the queue anew, and then the annotation app's latency from the
submitting keypress to the next record rendered with the queue in that order (p50/p99 over 500
submissions). Goals: re-ordering ≤ 5 s, p99 ≤ 50 ms (the app benchmark's goal).

    .venv/bin/python benchmarks/bench_uncertain.py [--records 1000000] [--submissions 500] [--dir /tmp/rlhf-tui-bench]

The store is built once (as benchmarks/bench_app.py builds it, in a file of its own) and reused.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_app import DATASET, build_store, measure, percentile  # noqa: E402


def reward_scores(store, records: int, seed: int) -> list[tuple[int, int, float]]:
    """A score for every candidate, as a reward model would give (pseudo-random, fixed by seed)."""
    ids = store.record_ids(DATASET)[:records]
    rows = store.connection.execute(
        "SELECT r.id, c.idx, (hash(r.id, c.idx, $seed) % 100000) / 10000.0 - 5.0 "
        "FROM (SELECT unnest($ids::BIGINT[]) AS id) r CROSS JOIN (SELECT unnest(range(3)) AS idx) c",
        {"ids": ids, "seed": seed},
    ).fetchall()
    return [(int(r), int(i), float(s)) for r, i, s in rows]


def timed_save(store, scorer: str, scores: list[tuple[int, int, float]]) -> tuple[float, float]:
    """(whole save_scores, the re-ordering inside it), in seconds."""
    state = store._assignment(DATASET)
    began = time.perf_counter()
    store.save_scores(scorer, scores, reorder=False)
    saved = time.perf_counter()
    store._reorder_after_scoring(scorer, min(s[0] for s in scores), max(s[0] for s in scores))
    done = time.perf_counter()
    assert state.order is not None and state.order.scorers == (scorer,)
    return done - began, done - saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--submissions", type=int, default=500)
    parser.add_argument("--dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "rlhf-tui-bench")
    args = parser.parse_args()
    store = build_store(args.dir / "uncertain", args.records)
    # The same run, the same machine load: first `fill`, for comparison.
    store.update_dataset(DATASET, settings={"assignment": "fill", "scorers": None})
    _, latencies = asyncio.run(measure(store, args.submissions))
    report("fill", args.records, latencies)
    store.update_dataset(DATASET, settings={"assignment": "uncertain"})
    began = time.perf_counter()
    store._assignment(DATASET)
    print(f"uncertain queue loaded and ordered by the scores already saved: {time.perf_counter() - began:.2f} s")
    for round_number in (1, 2):
        scores = reward_scores(store, args.records, round_number)
        total, reorder = timed_save(store, f"bench-rm-{round_number}", scores)
        print(
            f"round {round_number}: save_scores of {len(scores):,} scores ({args.records:,} records): {total:.2f} s, "
            f"of which re-ordering the queue {reorder:.2f} s (goal ≤ 5 s)"
        )
        del scores
    info = store.queue_info(DATASET)
    print(f"queue: {info.describe()}")
    for name, call in [("next_records(limit=8)", lambda: store.next_records(DATASET, "probe", limit=8))]:
        began = time.perf_counter()
        call()
        print(f"store.{name}: {1000 * (time.perf_counter() - began):.0f} ms")
    store.release_all_leases("probe")
    startup, latencies = asyncio.run(measure(store, args.submissions))
    print(f"start-up to first record shown (uncertain): {startup:.3f} s (goal ≤ 1.5 s)")
    report("uncertain", args.records, latencies)
    store.close()


def report(strategy: str, records: int, latencies: list[float]) -> None:
    ms = [1000 * value for value in latencies]
    print(
        f"{strategy}: keypress → next record rendered over {len(ms)} submissions on {records:,} records: "
        f"p50 {statistics.median(ms):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, max {max(ms):.1f} ms "
        "(goal p99 ≤ 50 ms)",
        flush=True,
    )


if __name__ == "__main__":
    main()
