"""Reward-model scores for candidates, and how often the reward model agrees with the people.

The scores go to the store's candidate_scores table, which annotators never read before they
answer (they are not anchored by what the model thinks); they order `uncertain` queues and
appear in review. Imported only by `rlhf-tui score` / `eval`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .formatting import scoring_ids
from .modeling import Model, Tokenizer
from .shares import TIE_TOLERANCE, describe_share


def reward_input_ids(tokenizer: Tokenizer, prompt: Any, answer: Any, max_length: int = 1024) -> list[int]:
    """Token ids exactly as training builds them (`trainers.formatting`): the chat template when the
    tokenizer has one (a plain-string prompt is one user turn), else prompt + answer + eos; a prompt
    too long for `max_length` is cut from the left, the answer kept."""
    return scoring_ids(tokenizer, prompt, answer, max_length)


@torch.no_grad()
def score_answers(
    model: Model,
    tokenizer: Tokenizer,
    pairs: Sequence[tuple[Any, str]],
    batch_size: int = 8,
    max_length: int = 1024,
    on_progress: Callable[[int], None] | None = None,
) -> list[float]:
    """One reward per (prompt, answer), in input order; a prompt too long for `max_length` loses its start."""
    ids = [reward_input_ids(tokenizer, p, a, max_length) for p, a in pairs]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    scores = [0.0] * len(ids)
    pad = tokenizer.pad_token_id
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        width = max(len(ids[i]) for i in chunk)
        input_ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        attention = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, i in enumerate(chunk):  # right padding, as the trainer's collator does
            input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
            attention[row, : len(ids[i])] = 1
        logits = model(input_ids=input_ids.to(model.device), attention_mask=attention.to(model.device)).logits
        for row, i in enumerate(chunk):
            scores[i] = float(logits[row].float().reshape(-1)[0])
        if on_progress:
            on_progress(len(chunk))
    return scores


@dataclass
class Agreement:
    """How often the reward model orders a pair of candidates the way an annotator ranked them."""

    records: int  # annotated records with scores
    pairs: int  # pairs with different ranks (ties in the ranking give none)
    agreed: float  # pairs ordered the same way; a tie in scores counts half
    ties: int = 0  # pairs the model scored equally (each counted half in `agreed`)

    @property
    def rate(self) -> float | None:
        return self.agreed / self.pairs if self.pairs else None

    def describe(self) -> str:
        """'0.587 [0.52, 0.65], 218 pairs' — the share, its 95% Wilson interval, its count — and the ties."""
        text = describe_share(self.agreed, self.pairs)
        return text + (f", {self.ties} tied in score (½ each)" if self.ties else "")


def agreement(
    rankings: Sequence[tuple[int, str, Sequence[int], bool]], scores: dict[tuple[int, int], float]
) -> Agreement:
    """Agreement over every annotator's every ranked pair (`store.submitted_rankings` rows)."""
    records, pairs, agreed, ties = set(), 0, 0.0, 0
    for record_id, _annotator, ranks, _both_bad in rankings:
        for i in range(len(ranks)):
            for j in range(i + 1, len(ranks)):
                if ranks[i] == ranks[j] or ranks[i] == 0 or ranks[j] == 0:
                    continue
                si, sj = scores.get((record_id, i)), scores.get((record_id, j))
                if si is None or sj is None:
                    continue
                records.add(record_id)
                pairs += 1
                better, worse = (si, sj) if ranks[i] < ranks[j] else (sj, si)
                if abs(better - worse) <= TIE_TOLERANCE:
                    agreed += 0.5
                    ties += 1
                elif better > worse:
                    agreed += 1.0
    return Agreement(records=len(records), pairs=pairs, agreed=agreed, ties=ties)
