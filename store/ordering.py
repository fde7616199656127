"""The order candidates are shown in: shuffled per annotator and record against
position bias, and the same every time that annotator opens that record."""

from __future__ import annotations

import hashlib
import random


def shown_order(record_id: int, annotator: str, n_candidates: int) -> tuple[int, ...]:
    seed = int.from_bytes(hashlib.sha256(f"{annotator}\x00{record_id}".encode()).digest()[:8], "big")
    order = list(range(n_candidates))
    random.Random(seed).shuffle(order)
    return tuple(order)
