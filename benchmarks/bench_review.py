"""The review queue and agreement on a big dataset: 100,000 records with 3 answers each.

    .venv/bin/python benchmarks/bench_review.py [--records 100000] [--next 300] [--app-next 300] [--pace-ms 100]

Prints, side by side in one process:
- review start: the queue (most disputed first) plus the first record and its answers;
- review next: each further record with every annotator's answer (p50/p99), against the
  ceiling of DuckDB fetching one record's answers by itself;
- `stats --agreement`: the rankings read and the figures computed, against a plain loop
  over the same rows that only counts distinct answers per record (what a user's own script
  would do at the least);
- the review app (`rlhf-tui review`, driven by Textual's `run_test` pilot at 120x40):
  start-up (app created -> first record on screen) and keypress `n` -> next record
  rendered (p50/p99), once with keys pressed back to back (the fetching ahead at its
  hardest) and once at one key every --pace-ms (still faster than anyone reads), each
  after the first record's fetch-ahead is done, as it is by the time a reviewer has read it.
Goals (issue 11): review start <= 1 s, next <= 50 ms p99."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.synthetic import add_random_rankings, write_native_jsonl  # noqa: E402
from store.connect import open_store  # noqa: E402
from store.stats.agreement import compute_agreement  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure_app(store, steps: int, pace_s: float) -> tuple[float, list[float], list[float]]:
    """The review app on `store`: seconds to the first record on screen, then per `n`
    keypress the ms until the next record is rendered and the ms of UI-thread CPU spent on
    it (what the app costs, apart from frame pacing and other processes)."""
    from textual import events

    from rlhf_tui.app.review.app import ReviewApp

    rendered = asyncio.Event()
    shown_at = [0.0, 0.0]

    def on_rendered(record_id: int | None) -> None:
        shown_at[:] = [time.perf_counter(), time.thread_time()]
        rendered.set()

    started = time.perf_counter()
    app = ReviewApp(store, "bench", "bench-reviewer")
    app.on_record_rendered = on_rendered
    latencies: list[float] = []
    cpu: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await asyncio.wait_for(rendered.wait(), 60)
        startup = shown_at[0] - started
        # A reviewer reads the first record before pressing n: its fetch-ahead has finished by then.
        await app.jobs.wait_until_done()
        await pilot.pause()
        for _ in range(steps):
            if pace_s:
                await asyncio.sleep(pace_s)
            rendered.clear()
            pressed, pressed_cpu = time.perf_counter(), time.thread_time()
            app.post_message(events.Key("n", "n"))
            await asyncio.wait_for(rendered.wait(), 30)
            latencies.append((shown_at[0] - pressed) * 1000)
            cpu.append((shown_at[1] - pressed_cpu) * 1000)
        await pilot.press("q")
        await app.jobs.wait_until_done()
    return startup, latencies, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--next", type=int, default=300, help="records walked after the first")
    parser.add_argument("--app-next", type=int, default=300, help="records walked in the app after the first")
    parser.add_argument("--pace-ms", type=int, default=100, help="the second app run: ms between keypresses")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rlhf-bench-review-"))
    import duckdb

    gen = duckdb.connect()
    write_native_jsonl(gen, work / "records.jsonl", args.records)
    gen.close()
    store_path = work / "bench.duckdb"
    with open_store(store_path) as s:
        s.import_file(work / "records.jsonl", dataset="bench", annotators_per_record=3)
        add_random_rankings(s, "bench", ["ann", "bob", "cat"])
    print(f"{args.records:,} records x 3 answers in {store_path}")

    with open_store(store_path) as s:  # a fresh process state: nothing cached
        started = time.perf_counter()
        queue = s.review_queue("bench", limit=1000)
        first = queue[0].record_id
        s.get_records([first])
        s.record_answers(first)
        s.get_review(first)
        review_start = time.perf_counter() - started

        steps = []
        for item in queue[1 : 1 + args.next]:
            t = time.perf_counter()
            s.get_records([item.record_id])
            s.record_answers(item.record_id)
            s.get_review(item.record_id)
            steps.append((time.perf_counter() - t) * 1000)

        ceiling = []
        con = s.connection
        for item in queue[1 : 1 + args.next]:
            t = time.perf_counter()
            con.execute("SELECT * FROM annotations WHERE record_id = ?", [item.record_id]).fetchall()
            ceiling.append((time.perf_counter() - t) * 1000)

        t = time.perf_counter()
        rankings = s.submitted_rankings("bench")
        report = compute_agreement("rank", rankings, reviews=s.reviews("bench"))
        agreement_s = time.perf_counter() - t

        t = time.perf_counter()
        plain_rows = con.execute(
            "SELECT record_id, annotator, ranks FROM annotations WHERE status = 'submitted'"
        ).fetchall()
        distinct: dict[int, set] = defaultdict(set)
        for record_id, _, ranks in plain_rows:
            distinct[record_id].add(tuple(ranks))
        plain_s = time.perf_counter() - t

    app_runs = []
    for pace_ms in (0, args.pace_ms):  # keys back to back (the fetch-ahead at its hardest), then at a fast pace
        with open_store(store_path) as s:  # the app on a fresh store object, as `rlhf-tui review` opens it
            app_runs.append((pace_ms, *asyncio.run(measure_app(s, args.app_next, pace_ms / 1000))))

    print(
        f"\nreview start   {review_start * 1000:8.0f} ms   (queue of {len(queue):,} + first record)   goal <= 1000 ms: "
        f"{'met' if review_start <= 1 else 'NOT met'}"
    )
    p50, p99 = statistics.median(steps), percentile(steps, 0.99)
    c50, c99 = statistics.median(ceiling), percentile(ceiling, 0.99)
    print(
        f"review next    p50 {p50:6.1f} ms  p99 {p99:6.1f} ms   goal p99 <= 50 ms: {'met' if p99 <= 50 else 'NOT met'}"
    )
    print(
        f"  ceiling      p50 {c50:6.1f} ms  p99 {c99:6.1f} ms   (DuckDB: one record's answers alone)  "
        f"ratio p50 {p50 / c50:.1f}x"
    )
    for pace_ms, app_start, app_steps, app_cpu in app_runs:
        a50, a99 = statistics.median(app_steps), percentile(app_steps, 0.99)
        pace = "back to back" if not pace_ms else f"one key every {pace_ms} ms"
        print(
            f"app start      {app_start * 1000:8.0f} ms   (review app created -> first record on screen, 120x40)   "
            f"goal <= 1000 ms: {'met' if app_start <= 1 else 'NOT met'}"
        )
        print(
            f"app next       p50 {a50:6.1f} ms  p99 {a99:6.1f} ms  max {max(app_steps):6.1f} ms   (key n -> next "
            f"record rendered, {len(app_steps)} records, {pace})   goal p99 <= 50 ms: {'met' if a99 <= 50 else 'NOT met'}"
        )
        print(
            f"  UI thread    p50 {statistics.median(app_cpu):6.1f} ms  p99 {percentile(app_cpu, 0.99):6.1f} ms   "
            "(CPU the app spent on each; the rest is frame pacing and other threads/processes)"
        )
    print(
        f"stats --agreement {agreement_s:6.2f} s  ({len(rankings):,} answers, {report.records_compared:,} records "
        f"compared)"
    )
    print(
        f"  plain loop      {plain_s:6.2f} s  (fetch + distinct answers per record only)  ratio {agreement_s / plain_s:.1f}x"
    )


if __name__ == "__main__":
    main()
