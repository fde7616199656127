"""`train kto`: a policy trained with KTO on answers marked desirable or not (thumbs, ratings, rankings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .base import BuildRequest, EncodeContext, cut_exchange, help_text, policy_kind, trainer_inputs

if TYPE_CHECKING:
    from transformers import Trainer

    from ..config import TrainConfig

HELP = """Train a policy with KTO on answers marked desirable or undesirable, one at a time.

    --dataset NAME: thumbs (up = desirable), ratings with --threshold, or rankings (the best answer
    desirable, the worst undesirable); --data FILE: TRL's unpaired format (prompt, completion, label).
    KTO pairs answers within a batch to estimate its KL term: --batch-size 2 or more, and the rows are
    shuffled (seeded). The reference is the base with the adapter disabled.

    Example: rlhf-tui train kto --dataset thumbs --model ./SmolLM2-135M --output runs/kto
    """


@dataclass
class KTOArgs:
    """KTO only."""

    beta: float = field(default=0.1, metadata=help_text("KTO β: how far the policy may move from the reference."))
    desirable_weight: float = field(
        default=1.0,
        metadata=help_text("Weight of the desirable (thumbs-up) answers' loss; raise it when they are fewer."),
    )
    undesirable_weight: float = field(default=1.0, metadata=help_text("Weight of the undesirable answers' loss."))
    threshold: float | None = field(
        default=None,
        metadata=help_text(
            "With --dataset of ratings: an answer rated at least this (on the overall axis) is desirable (e.g. 5 "
            "on a 1-7 scale). Thumbs need none; rankings give the best (desirable) and worst answers."
        ),
    )


def validate(cfg: TrainConfig) -> None:
    if cfg.training.batch_size < 2:
        raise ConfigError(
            "KTO needs --batch-size 2 or more: it estimates its KL term from mismatched answers within a batch"
        )


def encode(ctx: EncodeContext, row: dict[str, Any]) -> dict[str, Any] | None:
    cut = cut_exchange(ctx, row["prompt"], row["completion"])
    if not cut["completion_ids"]:
        return None
    return {**cut, "label": bool(row["label"])}


def trainer_class() -> type:
    from datasets import Dataset
    from trl import KTOTrainer

    class PretokenizedKTOTrainer(KTOTrainer):
        """KTOTrainer that takes our tokenised rows (prompts cut from the left); it adds only its KL pairs."""

        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            if not (isinstance(dataset, Dataset) and "prompt_ids" in dataset.column_names):
                return super()._prepare_dataset(dataset, processing_class, args, dataset_name)
            if not self.calculate_KL:
                return dataset

            def add_kl_completion_ids(examples):  # TRL's own: each answer paired with its neighbour's prompt
                examples["KL_completion_ids"] = [examples["completion_ids"][-1], *examples["completion_ids"][:-1]]
                return examples

            return dataset.map(add_kl_completion_ids, batched=True, batch_size=args.per_device_train_batch_size)

    return PretokenizedKTOTrainer


def build(req: BuildRequest) -> Trainer:
    from trl import KTOConfig

    k = req.cfg.kto
    args = KTOConfig(
        **req.arguments,
        beta=k.beta,
        desirable_weight=k.desirable_weight,
        undesirable_weight=k.undesirable_weight,
        disable_dropout=False,  # as for DPO: LoRA dropout stays, the base's own is turned off
    )
    trainer: Trainer = trainer_class()(args=args, **trainer_inputs(req))
    return trainer


KIND = policy_kind(
    name="kto",
    summary="a policy trained with KTO on answers marked desirable or not (thumbs, ratings)",
    help=HELP,
    options=KTOArgs,
    learning_rate=5e-5,
    accuracy_key="rewards/margins",
    margin_key="kl",
    accuracy_label="reward margin",
    encode=encode,
    build=build,
    validate=validate,
    data_format="kto",
    log_figures=(("reward margin", "rewards/margins"), ("kl", "kl")),
    margin_label="kl",
)
