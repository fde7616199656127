"""Reward-model and DPO training with TRL, peft LoRA and bitsandbytes 4-bit (QLoRA).

Light at import: torch, transformers, trl and peft are imported only inside the functions
that train (`trainers.reward`, `trainers.dpo`, `trainers.modeling`). Never imports textual.
"""

from .config import (  # noqa: F401
    DataArgs,
    DPOArgs,
    ModelArgs,
    RewardArgs,
    TrainArgs,
    TrainConfig,
    load_config,
)
from .errors import TrainerError  # noqa: F401
