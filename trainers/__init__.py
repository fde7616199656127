"""Reward-model and DPO training with TRL, peft LoRA and bitsandbytes 4-bit (QLoRA), and the loop after it.

Light at import: this package and `config`, `kinds` (one module per training kind), `data`, `batching`,
`memory`, `metrics`, `shares` (shares of pairs and their intervals), `quiet` and `errors` never import
torch. `run` (one training run), `modeling` (loading, quantisation, LoRA, merging), `callbacks`,
`heldout`, `generation`, `scoring` and `evaluation` do, and are imported only by the commands that need them.
Never imports textual.
"""

from .config import DataArgs, DPOArgs, ModelArgs, RewardArgs, TrainArgs, TrainConfig, load_config
from .errors import TrainerError

__all__ = [
    "DPOArgs",
    "DataArgs",
    "ModelArgs",
    "RewardArgs",
    "TrainArgs",
    "TrainConfig",
    "TrainerError",
    "load_config",
]
