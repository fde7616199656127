"""Import and export throughput at 1,000,000 records / annotations, next to a plain-Python
baseline (json loop + executemany, on the first 50,000 rows) run in the same process.

    .venv/bin/python benchmarks/bench_import_export.py [--records 1000000] [--baseline-rows 50000]

Goal on a 2-core machine: import >= 100k records/s, export >= 500k rows/s."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb

from benchmarks.synthetic import add_random_rankings, write_native_jsonl
from store.connect import open_store
from store.db.migrations import apply_migrations
from store.types import ExportOptions


def baseline_import(path: Path, n: int, db: Path) -> float:
    """Rows/s of the obvious approach: json.loads each line, executemany the inserts."""
    con = duckdb.connect(str(db))
    apply_migrations(con, str(db))
    start = time.perf_counter()
    records, candidates = [], []
    with path.open() as fh:
        for i, line in enumerate(fh):
            if i >= n:
                break
            row = json.loads(line)
            records.append((i + 1, 1, row["id"], row["prompt"], json.dumps(row["metadata"]), len(row["responses"])))
            candidates.extend((i + 1, j, r["text"], r["source"]) for j, r in enumerate(row["responses"]))
    con.execute("BEGIN TRANSACTION")
    con.executemany(
        "INSERT INTO records (id, dataset_id, external_id, prompt_text, metadata, n_candidates, imported_at) "
        "VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
        records,
    )
    con.executemany("INSERT INTO candidates VALUES (?, ?, ?, ?)", candidates)
    con.execute("COMMIT")
    elapsed = time.perf_counter() - start
    con.close()
    return n / elapsed


def baseline_export(store_path: Path, n: int, out: Path) -> float:
    """Rows/s of fetching annotations with their record and writing JSON lines from Python."""
    con = duckdb.connect(str(store_path), read_only=True)
    start = time.perf_counter()
    rows = con.execute(
        "SELECT a.record_id, r.external_id, r.prompt_text, a.annotator, a.status, a.ranks, a.shown_order, "
        "a.seconds_spent, a.created_at FROM annotations a JOIN records r ON r.id = a.record_id "
        "ORDER BY a.record_id, a.annotator LIMIT ?",
        [n],
    ).fetchall()
    with out.open("w") as fh:
        for row in rows:
            fh.write(
                json.dumps(
                    dict(
                        zip(
                            (
                                "record_id",
                                "external_id",
                                "prompt",
                                "annotator",
                                "status",
                                "ranks",
                                "shown_order",
                                "seconds",
                                "created_at",
                            ),
                            (*row[:-1], row[-1].isoformat()),
                        )
                    )
                )
                + "\n"
            )
    elapsed = time.perf_counter() - start
    con.close()
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data = tmp / "records.jsonl"
        gen = duckdb.connect()
        write_native_jsonl(gen, data, args.records)
        gen.close()
        size_mb = data.stat().st_size / 1e6
        print(f"input: {args.records:,} native records, 4 candidates each, {size_mb:,.0f} MB of JSONL")

        base_in = baseline_import(data, args.baseline_rows, tmp / "baseline.duckdb")

        store_path = tmp / "bench.duckdb"
        store = open_store(store_path)
        start = time.perf_counter()
        report = store.import_file(data, dataset="bench")
        import_s = time.perf_counter() - start
        assert report.added == args.records, report
        ours_in = args.records / import_s

        start = time.perf_counter()
        n_annotations = add_random_rankings(store, "bench", ["ann"])
        generate_s = time.perf_counter() - start

        timings = {}
        for fmt, suffix in (("annotations", "parquet"), ("annotations", "jsonl"), ("preference", "parquet")):
            out = tmp / f"{fmt}.{suffix}"
            start = time.perf_counter()
            rows = store.export("bench", out, ExportOptions(fmt))
            timings[(fmt, suffix)] = (rows, time.perf_counter() - start, out.stat().st_size / 1e6)
        store.close()
        base_out = baseline_export(store_path, args.baseline_rows, tmp / "baseline.jsonl")

    print(f"\nimport   ours      {ours_in:>12,.0f} records/s  ({args.records:,} in {import_s:.2f} s)")
    print(f"import   baseline  {base_in:>12,.0f} records/s  (json loop + executemany, first {args.baseline_rows:,})")
    print(
        f"import   ratio     {ours_in / base_in:>12.1f}x   "
        f"goal >= 100,000 records/s: {'met' if ours_in >= 100_000 else 'NOT met'}"
    )
    print(f"\n(generated {n_annotations:,} submitted rankings in {generate_s:.2f} s)")
    for (fmt, suffix), (rows, secs, mb) in timings.items():
        print(
            f"export   ours      {rows / secs:>12,.0f} rows/s     "
            f"({rows:,} {fmt} rows to .{suffix} in {secs:.2f} s, {mb:,.0f} MB)"
        )
    print(f"export   baseline  {base_out:>12,.0f} rows/s     (fetch + json.dumps loop, first {args.baseline_rows:,})")
    ann_rows, ann_secs, _ = timings[("annotations", "parquet")]
    print(
        f"export   ratio     {ann_rows / ann_secs / base_out:>12.1f}x   goal >= 500,000 rows/s (annotations, Parquet): "
        f"{'met' if ann_rows / ann_secs >= 500_000 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
