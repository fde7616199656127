"""A load-generating annotator for `rlhf-tui serve`: takes records and submits rankings
as fast as it can, logging each acknowledged submission. Used by the reliability test
and the service benchmark; also handy to load-test a team server.

    python -m benchmarks.loadgen --socket S --dataset D --count N --ack-log FILE [--as-uid U --as-gid G]

Started as root with --as-uid, it drops to that user after its imports, so the service
sees a different annotator per process (uids need no passwd entry)."""

from __future__ import annotations

import argparse
import json
import os
import random
import time
import uuid
from pathlib import Path

from store.service.client import ServiceClient
from store.types import AnnotationInput


def drop_privileges(uid: int, gid: int) -> None:
    """Become `uid` in group `gid`, with every module of the store already imported: the interpreter may live
    in a folder only root can read (as on the machines this suite runs on), and the store imports some
    modules only when first needed."""
    import importlib
    import pkgutil

    import store

    for module in pkgutil.walk_packages(store.__path__, "store."):
        importlib.import_module(module.name)
    os.setgroups([gid])
    os.setgid(gid)
    os.setuid(uid)


def run(socket_path: Path, dataset: str, count: int, ack_log: Path, timings: Path | None, seed: int) -> int:
    done = len(ack_log.read_text().splitlines()) if ack_log.exists() else 0
    client = ServiceClient(socket_path, reconnect_timeout=60)
    me = client.whoami()["user"]
    rng = random.Random(seed)
    next_ms, submit_ms = [], []
    with ack_log.open("a") as log:
        while done < count:
            start = time.perf_counter()
            records = client.next_records(dataset, me, limit=1)
            next_ms.append((time.perf_counter() - start) * 1000)
            if not records:
                break
            record = records[0]
            ranks = list(range(1, len(record.candidates) + 1))
            rng.shuffle(ranks)
            client_id = str(uuid.uuid4())
            start = time.perf_counter()
            client.save_annotation(AnnotationInput(record.id, me, "submitted", tuple(ranks), client_id=client_id))
            submit_ms.append((time.perf_counter() - start) * 1000)
            log.write(f"{client_id} {record.id}\n")
            log.flush()
            done += 1
    client.close()
    if timings:
        timings.write_text(json.dumps({"next_ms": next_ms, "submit_ms": submit_ms}))
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--ack-log", type=Path, required=True)
    parser.add_argument("--timings", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--as-uid", type=int)
    parser.add_argument("--as-gid", type=int)
    args = parser.parse_args()
    if args.as_uid is not None:
        drop_privileges(args.as_uid, args.as_gid if args.as_gid is not None else args.as_uid)
    print(run(args.socket, args.dataset, args.count, args.ack_log, args.timings, args.seed), flush=True)


if __name__ == "__main__":
    main()
