"""Throughput and latency of `rlhf-tui serve` under 16 concurrent annotator processes.

    .venv/bin/python benchmarks/bench_service.py [--clients 16] [--per-client 150] [--records 20000]

Each client (python -m benchmarks.loadgen) loops next-record -> submit as fast as it can. Run as
root, each client drops to its own uid, so the service sees 16 different annotators.
Goal on a 2-core machine: p99 <= 20 ms, >= 500 submissions/s."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.synthetic import write_native_jsonl  # noqa: E402
from store.connect import open_store  # noqa: E402
from store.service.client import ServiceClient  # noqa: E402

GROUP_ID = 20000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--per-client", type=int, default=150)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--k", type=int, default=3, help="annotators per record")
    args = parser.parse_args()
    as_root = os.geteuid() == 0
    work = Path(tempfile.mkdtemp(prefix="rlhf-bench-service-"))
    work.chmod(0o777)
    # The team layout: the store in a folder for the service's user alone, the socket in its own.
    (work / "data").mkdir(mode=0o700)
    store_path = work / "data" / "bench.duckdb"
    import duckdb

    gen = duckdb.connect()
    write_native_jsonl(gen, work / "records.jsonl", args.records)
    gen.close()
    with open_store(store_path) as s:
        s.import_file(work / "records.jsonl", dataset="bench", annotators_per_record=args.k)
    sock = work / "run" / "bench.sock"
    serve_cmd = [sys.executable, "-m", "rlhf_tui.cli", "serve", "--store", str(store_path), "--socket", str(sock)]
    if as_root:
        serve_cmd += ["--group", str(GROUP_ID)]
    service = subprocess.Popen(serve_cmd, cwd=REPO, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            ServiceClient(sock, connect_timeout=0.2).close()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise SystemExit("the service did not start") from None
            time.sleep(0.05)
    procs = []
    start = time.perf_counter()
    for i in range(args.clients):
        log, timings = work / f"ack-{i}.log", work / f"timings-{i}.json"
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.loadgen",
            "--socket",
            str(sock),
            "--dataset",
            "bench",
            "--count",
            str(args.per_client),
            "--ack-log",
            str(log),
            "--timings",
            str(timings),
            "--seed",
            str(i),
        ]
        if as_root:
            log.touch()
            timings.touch()
            os.chown(log, 30001 + i, GROUP_ID)
            os.chown(timings, 30001 + i, GROUP_ID)
            cmd += ["--as-uid", str(30001 + i), "--as-gid", str(GROUP_ID)]
        procs.append(subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True))
    done = sum(int(p.communicate()[0].strip() or 0) for p in procs)
    wall = time.perf_counter() - start
    service.terminate()
    service.wait()
    submit, nxt = [], []
    for i in range(args.clients):
        data = json.loads((work / f"timings-{i}.json").read_text())
        submit += data["submit_ms"]
        nxt += data["next_ms"]
    subprocess.run(["rm", "-rf", str(work)], check=False)
    # Client start-up (Python imports) is inside the wall time; the steady rate excludes it.
    steady = done / (sum(submit + nxt) / 1000 / args.clients)
    print(
        f"{args.clients} clients x {args.per_client} submissions, {args.records:,} records, K = {args.k}, "
        f"{'one uid per client' if as_root else 'all clients as one user'}"
    )
    print(f"submissions        {done:,} in {wall:.1f} s wall (incl. client start-up): {done / wall:,.0f} /s")
    print(f"steady throughput  {steady:,.0f} submissions/s (time inside calls, averaged over clients)")
    print(f"submit latency     p50 {statistics.median(submit):6.1f} ms   p99 {percentile(submit, 0.99):6.1f} ms")
    print(f"next-record        p50 {statistics.median(nxt):6.1f} ms   p99 {percentile(nxt, 0.99):6.1f} ms")
    print("goal: p99 <= 20 ms and >= 500 submissions/s")


if __name__ == "__main__":
    main()
