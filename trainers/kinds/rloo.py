"""`train rloo`: a policy optimised online against a reward model (RLOO, leave-one-out baseline)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..formatting import cut_prompt, encode_prompt
from .base import BuildRequest, EncodeContext, help_text, policy_kind, trainer_inputs

if TYPE_CHECKING:
    from transformers import Trainer

    from ..config import TrainConfig

HELP = """Optimise a policy online against a reward model (RLOO).

    For each prompt the policy samples --num-generations completions; the --reward-model (a `train
    reward` output, loaded once and frozen) scores each, minus --length-penalty per token and the KL to
    the reference (the base with the adapter disabled; continuing an SFT adapter, a frozen copy of it);
    each completion's advantage is its reward minus the mean of its siblings'. Prompts come from
    --dataset NAME (its records' prompts) or --data FILE (JSONL with prompt, or text lines), cut from
    the left to fit --max-length minus --max-new-tokens. Logged per step: reward, KL, completion
    length, entropy; every --sample-every steps a few completions go to OUTPUT/samples.jsonl.

    Example: rlhf-tui train rloo --dataset demo --model runs/sft --reward-model runs/rm --output runs/rloo
    """


@dataclass
class RLOOArgs:
    """RLOO only: online RL against a reward model."""

    reward_model: str | None = field(
        default=None,
        metadata=help_text(
            "The reward model: a `train reward` output folder (adapter + head) or a merged reward model. Loaded "
            "once, frozen: 4-bit on a GPU, float32 on the CPU; it scores as it was trained (its own tokenizer, chat "
            "template, prompts cut from the left)."
        ),
    )
    num_generations: int = field(
        default=4,
        metadata=help_text(
            "Completions per prompt (k, at least 2); each is judged against the mean of the other k-1 "
            "(leave-one-out baseline). --batch-size x --grad-accum counts completions and must divide by k."
        ),
    )
    max_new_tokens: int = field(
        default=128,
        metadata=help_text("Longest completion in tokens; prompts are cut from the left to --max-length minus this."),
    )
    temperature: float = field(default=1.0, metadata=help_text("Sampling temperature of the completions."))
    top_p: float = field(default=1.0, metadata=help_text("Nucleus sampling threshold of the completions."))
    kl_coef: float = field(
        default=0.05,
        metadata=help_text(
            "KL penalty to the reference (the base with the adapter disabled; continuing an SFT adapter: a frozen "
            "copy of it), subtracted from the reward (0: none)."
        ),
    )
    length_penalty: float = field(
        default=0.0,
        metadata=help_text(
            "Subtract this times the completion's tokens from its reward (policies learn to pad answers)."
        ),
    )
    reward_clip: float | None = field(
        default=None, metadata=help_text("Clip every reward to [-C, C] before the baseline (off by default).")
    )
    normalize_advantages: bool = field(
        default=True,
        metadata=help_text(
            "Scale the advantages of each generation batch to mean 0, std 1 (a reward model's scale is arbitrary)."
        ),
    )
    mask_truncated: bool = field(
        default=True,
        metadata=help_text(
            "Leave completions cut at --max-new-tokens out of the loss (the reward model never saw cut answers)."
        ),
    )
    sample_every: int = field(
        default=10,
        metadata=help_text("Every N steps, write a few prompts, completions and rewards to OUTPUT/samples.jsonl."),
    )
    reward_batch_size: int = field(default=8, metadata=help_text("Completions per forward pass of the reward model."))


def validate(cfg: TrainConfig) -> None:
    r, t = cfg.rloo, cfg.training
    if r.num_generations < 2:
        raise ConfigError("--num-generations must be at least 2 (the leave-one-out baseline needs siblings)")
    completions = t.batch_size * t.grad_accum
    if completions % r.num_generations:
        raise ConfigError(
            f"--batch-size x --grad-accum ({t.batch_size} x {t.grad_accum} = {completions}) counts completions and "
            f"must be a multiple of --num-generations ({r.num_generations})"
        )
    if r.max_new_tokens < 1 or r.max_new_tokens >= cfg.data.max_length:
        raise ConfigError(
            f"--max-new-tokens must be at least 1 and below --max-length ({cfg.data.max_length}), "
            "which also holds the prompt"
        )
    if r.temperature <= 0:
        raise ConfigError("--temperature must be above 0 (RLOO samples its completions)")
    if r.sample_every < 1 or r.reward_batch_size < 1:
        raise ConfigError("--sample-every and --reward-batch-size must be at least 1")
    if r.reward_clip is not None and r.reward_clip <= 0:
        raise ConfigError("--reward-clip must be above 0")


def encode(ctx: EncodeContext, row: dict[str, Any]) -> dict[str, Any] | None:
    # The trainer generates from the raw prompt; `RLOOPromptTrainer` tokenises and cuts it (left) the same way.
    encode_prompt(ctx.tokenizer, row["prompt"], ctx.source)  # chat data without a template fails here, in one line
    return {"prompt": row["prompt"]}


def trainer_class() -> type:
    from trl import RLOOTrainer

    class RLOOPromptTrainer(RLOOTrainer):
        """RLOOTrainer whose prompts are tokenised by `trainers.formatting` and cut from the left to fit.

        TRL 1.16 has no prompt length limit: a long prompt would crowd out the completion (or the context)."""

        prompt_budget: int = 0

        def _tokenize_prompts(self, prompts: list) -> tuple[list[list[int]], None, dict]:
            tokenizer = self.processing_class
            ids = [cut_prompt(tokenizer, encode_prompt(tokenizer, p), self.prompt_budget) for p in prompts]
            return ids, None, {}

    return RLOOPromptTrainer


def rloo_arguments(req: BuildRequest) -> dict[str, Any]:
    """The shared arguments RLOOConfig accepts (it has no max_length: the prompt budget is ours)."""
    return {k: v for k, v in req.arguments.items() if k != "max_length"}


def build(req: BuildRequest) -> Trainer:
    from trl import RLOOConfig

    r = req.cfg.rloo
    args = RLOOConfig(
        **rloo_arguments(req),
        num_generations=r.num_generations,
        max_completion_length=r.max_new_tokens,
        temperature=r.temperature,
        top_p=r.top_p,
        beta=r.kl_coef,
        normalize_advantages=r.normalize_advantages,
        reward_clip_range=(-r.reward_clip, r.reward_clip) if r.reward_clip else None,
        mask_truncated_completions=r.mask_truncated,
        disable_dropout=True,
        log_completions=False,  # ours go to OUTPUT/samples.jsonl (trainers.rewards)
    )
    # No eval_dataset: RLOO holds nothing out (`rlhf-tui eval` judges the policy).
    trainer: Trainer = trainer_class()(args=args, reward_funcs=list(req.reward_funcs), **trainer_inputs(req, False))
    trainer.prompt_budget = req.cfg.data.max_length - r.max_new_tokens  # type: ignore[attr-defined]
    return trainer


KIND = policy_kind(
    name="rloo",
    summary="a policy optimised online against a reward model (RLOO, leave-one-out baseline)",
    help=HELP,
    options=RLOOArgs,
    learning_rate=1e-5,
    accuracy_key="reward",
    margin_key="kl",
    accuracy_label="mean reward",
    encode=encode,
    build=build,
    validate=validate,
    data_format="prompts",
    evaluates=False,
    all_dropout_off=True,
    log_figures=(
        ("reward", "reward"),
        ("reward std", "reward_std"),
        ("kl", "kl"),
        ("tokens", "completions/mean_length"),
        ("cut", "completions/clipped_ratio"),
        ("entropy", "entropy"),
    ),
    margin_label="kl",
)
