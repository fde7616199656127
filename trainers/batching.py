"""Batches that keep a prompt's pairs together (`--group-by-prompt`): which rows go in which batch.

Pure Python and torch-free: the sampler is duck-typed for a torch DataLoader.
"""

from __future__ import annotations

import random
from collections.abc import Iterator


def group_batches(group_ids: list[int], batch_size: int, seed: int) -> list[list[int]]:
    """Batches of row indices, at most `batch_size` each, where every prompt's pairs sit together.

    Groups are shuffled, then packed greedily; a group with more pairs than the batch is split into
    consecutive batches (a 9-answer ranking gives 36 pairs per annotator: one batch of them would not
    fit the memory the estimate promises). InstructGPT keeps a prompt's pairs together; consecutive
    batches fall into the same optimiser step when --grad-accum is large enough.
    """
    groups: dict[int, list[int]] = {}
    for index, gid in enumerate(group_ids):
        groups.setdefault(gid, []).append(index)
    order = list(groups.values())
    random.Random(seed).shuffle(order)
    batches: list[list[int]] = []
    current: list[int] = []
    for members in order:
        if current and len(current) + len(members) > batch_size:
            batches.append(current)
            current = []
        while len(members) > batch_size:
            batches.append(members[:batch_size])
            members = members[batch_size:]
        current = current + members
    if current:
        batches.append(current)
    return batches


class PromptGroupBatchSampler:
    """A batch sampler over `group_batches`, reshuffled each epoch (torch-free, duck-typed for DataLoader)."""

    def __init__(self, group_ids: list[int], batch_size: int, seed: int) -> None:
        self.group_ids = list(group_ids)
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0
        self._epoch_set = False

    def set_epoch(self, epoch: int) -> None:
        self.epoch, self._epoch_set = epoch, True

    def __iter__(self) -> Iterator[list[int]]:
        batches = group_batches(self.group_ids, self.batch_size, self.seed + self.epoch)
        if not self._epoch_set:  # nobody tells us the epoch: move on by ourselves
            self.epoch += 1
        return iter(batches)

    def __len__(self) -> int:
        return len(group_batches(self.group_ids, self.batch_size, self.seed))
