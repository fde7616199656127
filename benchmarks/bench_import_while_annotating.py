"""How long an annotator waits for the next record while an admin imports a large file.

    .venv/bin/python benchmarks/bench_import_while_annotating.py [--mb 170] [--store-dir DIR]

One thread imports a JSONL file of about --mb MB into the store; another asks for the next
record (and releases it) in a loop meanwhile, on another dataset. Prints the import's time and
the annotator's p50/p99/max wait during it. Goal (issue 19): p99 <= 200 ms for a 170 MB import."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from store.connect import open_store  # noqa: E402


def write_file(path: Path, megabytes: int) -> int:
    answer = "lorem ipsum dolor sit amet " * 40  # about 1 kB an answer
    rows = 0
    with path.open("w", encoding="utf-8") as fh:
        while fh.tell() < megabytes << 20:
            fh.write(
                json.dumps({"id": f"big{rows}", "prompt": f"question {rows}", "responses": [answer, answer[::-1]]})
            )
            fh.write("\n")
            rows += 1
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=170)
    parser.add_argument("--store-dir", type=Path, default=None)
    args = parser.parse_args()
    folder = args.store_dir or Path(tempfile.mkdtemp(prefix="bench-import-"))
    big = folder / "big.jsonl"
    rows = write_file(big, args.mb)
    small = folder / "work.jsonl"
    small.write_text(
        "".join(json.dumps({"id": f"w{i}", "prompt": "q", "responses": ["a", "b"]}) + "\n" for i in range(500))
    )
    with open_store(folder / "bench.duckdb") as store:
        store.import_file(small, dataset="work")
        waits: list[float] = []
        done = threading.Event()

        def annotate() -> None:
            while not done.is_set():
                start = time.perf_counter()
                (record,) = store.next_records("work", "ann")
                waits.append(time.perf_counter() - start)
                store.release_lease(record.id, "ann")

        annotator = threading.Thread(target=annotate)
        annotator.start()
        start = time.perf_counter()
        report = store.import_file(big, dataset="big")
        took = time.perf_counter() - start
        done.set()
        annotator.join()
    ms = sorted(w * 1000 for w in waits)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"import of {big.stat().st_size / 1e6:.0f} MB ({rows} rows, {report.added} added): {took:.1f} s")
    print(
        f"next record during it: {len(ms)} calls, p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, "
        f"max {ms[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
