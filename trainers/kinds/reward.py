"""`train reward`: a reward model — a one-output head on the base — trained on preference pairs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..formatting import encode_pair
from .base import BuildRequest, EncodeContext, TrainerKind, help_text, refuse_for_reward, trainer_inputs

if TYPE_CHECKING:
    from transformers import Trainer

HELP = """Train a reward model: a one-output head on the base, with a LoRA adapter.

    Pairs come from --data FILE (Parquet/JSONL: prompt, chosen, rejected) or --dataset NAME in the
    store. OUTPUT gets the adapter and reward head, the tokenizer, train_config.yaml, metrics.json
    and curves.png. Every option can also come from --config train.toml (or YAML); flags win.
    --model may also be a reward-model adapter folder: training continues that adapter and head.

    Example: rlhf-tui train reward --dataset demo --model ./SmolLM2-135M --output runs/rm
    """


@dataclass
class RewardArgs:
    """Reward-model only."""

    use_margin: bool = field(
        default=False,
        metadata=help_text(
            "Subtract each pair's margin (the rank gap) inside the loss: -log σ(r_chosen − r_rejected − margin)."
        ),
    )
    group_by_prompt: bool = field(
        default=False,
        metadata=help_text(
            "Keep the pairs of one prompt together (InstructGPT): in one batch, or, for a prompt with more pairs "
            "than --batch-size, in consecutive batches of at most --batch-size pairs."
        ),
    )
    center_rewards: float | None = field(
        default=None,
        metadata=help_text("Coefficient pushing rewards towards mean zero (0.01 is usual; off by default)."),
    )


def encode(ctx: EncodeContext, row: dict[str, Any]) -> dict[str, Any] | None:
    pair = encode_pair(ctx.tokenizer, row["prompt"], row["chosen"], row["rejected"], ctx.max_length, ctx.source)
    if pair is None:
        return None
    out: dict[str, Any] = {
        "chosen_ids": pair.prompt_ids + pair.chosen_ids,
        "rejected_ids": pair.prompt_ids + pair.rejected_ids,
        "answer_tokens": (len(pair.chosen_ids) + len(pair.rejected_ids)) / 2,
        "prompt_cut": pair.prompt_cut,
    }
    if ctx.cfg.reward.use_margin:
        margin = row.get("margin")
        out["margin"] = float(margin) if margin is not None else 0.0
    return out


def trainer_class() -> type:
    from datasets import Dataset
    from torch.utils.data import DataLoader
    from trl import RewardTrainer

    from ..batching import PromptGroupBatchSampler
    from ..heldout import add_gathered
    from ..shares import PairScores, pair_figures

    class PromptGroupedRewardTrainer(RewardTrainer):
        """RewardTrainer whose batches keep every pair of a prompt together (when the data has `group_id`),
        and whose evaluation records each held-out pair's two rewards (`held_out`): its accuracy is a share
        of pairs, logged as eval_pair_accuracy beside TRL's per-batch mean (eval_accuracy)."""

        held_out: PairScores | None = None  # the last evaluation's pairs

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss, outputs = super().compute_loss(
                model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch
            )
            if not model.training and self.held_out is not None:
                chosen, rejected = outputs.logits.squeeze(-1).chunk(2)  # the collator stacks chosen, then rejected
                add_gathered(self.held_out, self.accelerator, chosen, rejected)
            return (loss, outputs) if return_outputs else loss

        def evaluation_loop(
            self, dataloader, description, prediction_loss_only=None, ignore_keys=None, metric_key_prefix="eval"
        ):
            self.held_out = PairScores()
            output = super().evaluation_loop(
                dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix
            )
            if output.metrics is not None:
                output.metrics.update(pair_figures(metric_key_prefix, self.held_out.share()))
            return output

        def get_train_dataloader(self) -> DataLoader:
            train = self.train_dataset
            if not isinstance(train, Dataset) or "group_id" not in train.column_names:
                return super().get_train_dataloader()
            sampler = PromptGroupBatchSampler(train["group_id"], self._train_batch_size, self.args.seed)
            dataset = self._remove_unused_columns(train, description="Training")
            loader = DataLoader(
                dataset,
                batch_sampler=sampler,
                collate_fn=self.data_collator,
                num_workers=self.args.dataloader_num_workers,
                pin_memory=self.args.dataloader_pin_memory,
            )
            return self.accelerator.prepare(loader)

    return PromptGroupedRewardTrainer


def build(req: BuildRequest) -> Trainer:
    from trl import RewardConfig

    # disable_dropout=False: TRL's default would zero the LoRA dropout too; run.py turns off the base's own.
    args = RewardConfig(
        **req.arguments, center_rewards_coefficient=req.cfg.reward.center_rewards, disable_dropout=False
    )
    trainer: Trainer = trainer_class()(args=args, **trainer_inputs(req))
    return trainer


KIND = TrainerKind(
    name="reward",
    summary="a reward model: a one-output head on the base, trained on preference pairs",
    help=HELP,
    options=RewardArgs,
    learning_rate=1e-4,
    head="sequence-classification",
    peft_task="SEQ_CLS",
    modules_to_save=("score",),  # the head is new: train it fully and save it with the adapter
    continues_from=("SEQ_CLS",),
    accuracy_key="accuracy",
    margin_key="margin",
    accuracy_label="pairwise accuracy",
    pair_scores=True,
    encode=encode,
    build=build,
    refuse_adapter=refuse_for_reward,
)
