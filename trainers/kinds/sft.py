"""`train sft`: supervised fine-tuning of a policy on instruction data, the loss on the answers only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .base import BuildRequest, EncodeContext, cut_exchange, help_text, policy_kind, trainer_inputs

if TYPE_CHECKING:
    from transformers import Trainer

    from ..config import TrainConfig

HELP = """Supervised fine-tuning on instruction data; the loss is on the answers only.

    --dataset NAME takes one row per record from the store (`export --format sft`): an answer an
    annotator wrote where there is one, else the consensus-best candidate (Borda over all annotators;
    --aggregate adjudicated prefers a reviewer's choice). --data FILE: JSONL/Parquet with prompt and
    completion, or messages (the last assistant turn is the answer). Chat prompts go through the chat
    template. The output is a policy adapter that `train dpo`, `train kto` and `train rloo` accept as
    --model: they train that adapter further, against a frozen copy of it as the reference.

    Example: rlhf-tui train sft --dataset demo --model ./SmolLM2-135M --output runs/sft
    """

PACKING_KERNELS = ("flash_attention_2", "flash_attention_3", "flex_attention")


@dataclass
class SFTArgs:
    """SFT only."""

    packing: bool = field(
        default=False,
        metadata=help_text(
            "Pack several examples into one --max-length row (TRL's best-fit packing, padding-free). Needs an "
            "attention kernel that keeps packed examples apart: --attn-implementation flash_attention_2/3 or "
            "flex_attention; refused with sdpa and eager, where examples would attend to each other."
        ),
    )


def validate(cfg: TrainConfig) -> None:
    kernel = cfg.model.attn_implementation
    if cfg.sft.packing and kernel not in PACKING_KERNELS:
        raise ConfigError(
            f"--packing needs an attention kernel that keeps packed examples apart ({', '.join(PACKING_KERNELS)}); "
            f"with {kernel} they would attend to each other: drop --packing"
        )


def encode(ctx: EncodeContext, row: dict[str, Any]) -> dict[str, Any] | None:
    # Loss on the completion only: the mask marks the answer's tokens (TRL's completion_only_loss reads it).
    cut = cut_exchange(ctx, row["prompt"], row["completion"])
    if not cut["completion_ids"]:
        return None
    return {
        "input_ids": cut["prompt_ids"] + cut["completion_ids"],
        "completion_mask": [0] * len(cut["prompt_ids"]) + [1] * len(cut["completion_ids"]),
        "prompt_cut": cut["prompt_cut"],
        "answers_cut": cut["answers_cut"],
    }


def build(req: BuildRequest) -> Trainer:
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(
        **req.arguments,
        completion_only_loss=True,  # explicit: the loss is on the answer, never on the prompt
        packing=req.cfg.sft.packing,
        packing_strategy="bfd",
        dataset_kwargs={"skip_prepare_dataset": False},
    )
    trainer: Trainer = SFTTrainer(args=args, **trainer_inputs(req))
    return trainer


KIND = policy_kind(
    name="sft",
    summary="a policy fine-tuned on instruction data (the best or written answer per prompt)",
    help=HELP,
    options=SFTArgs,
    learning_rate=2e-4,
    accuracy_key="mean_token_accuracy",
    margin_key="entropy",
    accuracy_label="token accuracy",
    encode=encode,
    build=build,
    validate=validate,
    data_format="sft",
    log_figures=(("batch token accuracy", "mean_token_accuracy"), ("entropy", "entropy")),  # TRL's means
    margin_label="entropy",
)
