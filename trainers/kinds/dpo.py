"""`train dpo`: a policy trained with DPO against the base (or the adapter it continues)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..formatting import encode_pair
from .base import BuildRequest, EncodeContext, help_text, policy_kind, trainer_inputs

if TYPE_CHECKING:
    from transformers import Trainer

HELP = """Train a policy with DPO; the reference is the base with the adapter disabled.

    --model may also be a policy adapter folder (an earlier DPO or SFT run): training continues that
    adapter, and the reference is the policy it starts from (a frozen copy of the adapter).

    Pairs come from --data FILE (Parquet/JSONL: prompt, chosen, rejected) or --dataset NAME in the
    store. OUTPUT gets the adapter, the tokenizer, train_config.yaml, metrics.json and curves.png;
    --merge adds a merged 16-bit model. Flags override --config train.toml (or YAML).

    Example: rlhf-tui train dpo --dataset demo --model ./SmolLM2-135M --output runs/dpo --beta 0.1
    """


@dataclass
class DPOArgs:
    """DPO only."""

    beta: float = field(default=0.1, metadata=help_text("DPO β: how far the policy may move from the reference."))
    loss_type: str = field(
        default="sigmoid",
        metadata=help_text(
            "DPO loss: sigmoid, hinge, ipo, robust, bco_pair, sppo_hard, nca_pair, apo_zero, apo_down, ..."
        ),
    )
    precompute_ref: bool = field(
        default=False,
        metadata=help_text("Compute the reference log-probs once before training: no reference pass per step."),
    )


def encode(ctx: EncodeContext, row: dict[str, Any]) -> dict[str, Any] | None:
    # A policy learns from the start of a long answer as well (TRL's own truncation keeps it): cut, not drop.
    pair = encode_pair(
        ctx.tokenizer, row["prompt"], row["chosen"], row["rejected"], ctx.max_length, ctx.source, cut_answers=True
    )
    if pair is None:
        return None
    return {
        "prompt_ids": pair.prompt_ids,
        "chosen_ids": pair.chosen_ids,
        "rejected_ids": pair.rejected_ids,
        "answer_tokens": (len(pair.chosen_ids) + len(pair.rejected_ids)) / 2,
        "prompt_cut": pair.prompt_cut,
        "answers_cut": pair.answers_cut,
    }


def trainer_class() -> type:
    from datasets import Dataset
    from trl import DPOTrainer

    from ..heldout import dpo_pair_rewards
    from ..shares import PairScores, pair_figures

    class PretokenizedDPOTrainer(DPOTrainer):
        """DPOTrainer that takes our tokenised rows as they are (prompts already cut to fit, nothing dropped),
        and whose evaluation scores each held-out pair with DPO's implicit rewards (`held_out`): its reward
        accuracy is a share of pairs, logged as eval_pair_accuracy beside TRL's per-batch mean."""

        held_out: PairScores | None = None  # the last evaluation's pairs

        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            if isinstance(dataset, Dataset) and "prompt_ids" in dataset.column_names:
                return dataset
            return super()._prepare_dataset(dataset, processing_class, args, dataset_name)

        def evaluation_loop(
            self, dataloader, description, prediction_loss_only=None, ignore_keys=None, metric_key_prefix="eval"
        ):
            output = super().evaluation_loop(
                dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix
            )
            self.held_out = dpo_pair_rewards(self, dataloader)
            if output.metrics is not None:
                output.metrics.update(pair_figures(metric_key_prefix, self.held_out.share()))
            return output

    return PretokenizedDPOTrainer


def build(req: BuildRequest) -> Trainer:
    from trl import DPOConfig

    d = req.cfg.dpo
    args = DPOConfig(
        **req.arguments,
        beta=d.beta,
        loss_type=[d.loss_type],
        precompute_ref_log_probs=d.precompute_ref,
        disable_dropout=False,  # as for the reward model: LoRA dropout stays, the base's own is turned off
    )
    # No ref_model: with a fresh adapter the reference is the base with the adapter disabled; continuing an
    # adapter, TRL keeps a frozen copy of it ("ref"), so the reference is the policy the run started from.
    trainer: Trainer = trainer_class()(args=args, **trainer_inputs(req))
    return trainer


KIND = policy_kind(
    name="dpo",
    summary="a policy trained with DPO against the base (or the adapter it continues)",
    help=HELP,
    options=DPOArgs,
    learning_rate=5e-5,
    accuracy_key="rewards/accuracies",
    margin_key="rewards/margins",
    accuracy_label="reward accuracy",
    pair_scores=True,
    encode=encode,
    build=build,
)
