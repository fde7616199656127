"""Each held-out pair's two scores, taken as the trainer evaluates, so that accuracy is a share of pairs.

TRL logs the mean of per-batch accuracies: with 73 pairs in batches of 8 the last pair weighs a tenth
instead of a 73rd, and the figure is no count of pairs. The reward model's trainer records its two
rewards per pair as it computes the eval loss (no extra pass); DPO's implicit rewards are local to
TRL's loss, so `dpo_pair_rewards` computes them once more over the eval batches. Both gather over every
process the way the evaluation loop gathers its losses. Imported by the trainer classes only: torch.
"""

from __future__ import annotations

from typing import Any

import torch

from .shares import PairScores


def add_gathered(scores: PairScores, accelerator: Any, chosen: torch.Tensor, rejected: torch.Tensor) -> None:
    """One batch's (chosen, rejected) scores, gathered from every process, the padding of an uneven last
    batch dropped (`gather_for_metrics`)."""
    both = torch.stack([chosen.detach().float().reshape(-1), rejected.detach().float().reshape(-1)], dim=1)
    gathered = accelerator.gather_for_metrics(both).cpu()
    scores.add(gathered[:, 0].tolist(), gathered[:, 1].tolist())


def _completion_logps(model: Any, inputs: dict[str, Any]) -> torch.Tensor:
    """Summed log-probabilities of each row's completion, as TRL's DPO loss computes them (fused LM head)."""
    kwargs = {k: v for k, v in inputs.items() if k not in {"completion_mask", "ref_chosen_logps", "ref_rejected_logps"}}
    kwargs["use_cache"] = False
    labels = inputs["input_ids"].masked_fill(inputs["completion_mask"] == 0, -100)
    per_token = model(**kwargs, labels=labels, fused_lm_head=True).log_probs
    width = inputs["completion_mask"][..., 1:].size(1)
    return per_token[:, -width:].sum(dim=1)


def dpo_pair_rewards(trainer: Any, dataloader: Any) -> PairScores:
    """DPO's implicit rewards β·(log π(y|x) − log π_ref(y|x)) of each pair's chosen and rejected answer —
    the quantities TRL's `rewards/accuracies` compares — over every batch of `dataloader`."""
    scores = PairScores()
    model = trainer.model
    for batch in dataloader:
        inputs = trainer._prepare_inputs(batch)
        with torch.no_grad(), trainer.compute_loss_context_manager():
            chosen_logps, rejected_logps = _completion_logps(model, inputs).chunk(2, dim=0)
            if trainer.precompute_ref_logps:
                ref_chosen, ref_rejected = inputs["ref_chosen_logps"], inputs["ref_rejected_logps"]
            else:  # the base with the adapter off, or the frozen "ref" copy of a continued adapter
                ref_chosen, ref_rejected = trainer.compute_ref_log_probs(model, inputs)
        beta = trainer.beta
        add_gathered(
            scores, trainer.accelerator, beta * (chosen_logps - ref_chosen), beta * (rejected_logps - ref_rejected)
        )
    return scores
