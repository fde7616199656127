"""What every training kind declares (`TrainerKind`), what its encoder and builder receive, and the parts
the kinds share: the policy kinds' defaults, the adapter refusals, the arguments every TRL trainer takes.

Light at import: no torch, and no import of `trainers.config` (which imports the kinds for their sections).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..formatting import cut_prompt, encode_exchange, min_prompt_tokens

if TYPE_CHECKING:
    from peft import LoraConfig
    from transformers import Trainer, TrainerCallback

    from ..config import TrainConfig

Tokenizer = Any
Model = Any


def help_text(text: str) -> dict[str, str]:
    """A dataclass field's metadata: its help text, which is also the flag's `--help` line."""
    return {"help": text}


@dataclass
class BuildRequest:
    """What a builder gets: the run's config, the shared TrainingArguments values, model, data, callbacks."""

    cfg: TrainConfig
    arguments: dict[str, Any]
    model: Model
    tokenizer: Tokenizer
    train_dataset: Any
    eval_dataset: Any | None
    peft_config: LoraConfig | None  # None when the model is already a trainable peft model (continuing)
    callbacks: Sequence[TrainerCallback] = field(default_factory=tuple)
    reward_funcs: Sequence[Callable[..., list[float]]] = field(default_factory=tuple)  # RLOO: what scores completions


@dataclass
class EncodeContext:
    """What an encoder needs besides the row: the tokenizer, the length limit, the kind's options."""

    tokenizer: Tokenizer
    max_length: int
    cfg: TrainConfig
    source: str  # the model, named in errors


def no_checks(cfg: TrainConfig) -> None:
    """A kind whose options cannot contradict one another."""


@dataclass(frozen=True)
class TrainerKind:
    """One trainer: its options, data, model, TRL trainer, figures and `--help`."""

    name: str  # the command (`rlhf-tui train NAME`) and the config section of its own options
    summary: str
    help: str  # the command's --help text
    options: type  # the dataclass of its own options, the config section [name]
    learning_rate: float
    head: str  # "sequence-classification" (one output) or "causal-lm"
    peft_task: str  # the LoRA task type, as peft names it
    modules_to_save: tuple[str, ...]  # trained in full and saved with the adapter
    continues_from: tuple[str, ...]  # peft task types of the adapters a run may continue training
    accuracy_key: str  # logged by the trainer; "eval_" + key in evaluation
    margin_key: str
    accuracy_label: str
    encode: Callable[[EncodeContext, dict[str, Any]], dict[str, Any] | None]  # None: dropped for length
    build: Callable[[BuildRequest], Trainer]
    refuse_adapter: Callable[[str, str | None], str]
    validate: Callable[[TrainConfig], None] = no_checks  # raises ConfigError for options that cannot work
    data_format: str = "preference"  # the rows it reads: `store.export_rows` format, or "prompts" (RLOO)
    evaluates: bool = True  # holds out rows for an eval split (RLOO does not: `rlhf-tui eval` judges it)
    all_dropout_off: bool = False  # RL: the sampled and the trained log-probs must come from the same network
    log_figures: tuple[tuple[str, str], ...] = ()  # (label, logged key) on each plain log line; () = accuracy, margin
    pair_scores: bool = False  # its trainer records each held-out pair's two scores: accuracy is a share of pairs
    margin_label: str = "mean margin"

    @property
    def sections(self) -> tuple[str, ...]:
        """Config sections of its own, beside data/model/training."""
        return (self.name,)

    @property
    def eval_accuracy_key(self) -> str:
        return "eval_" + self.accuracy_key

    @property
    def eval_margin_key(self) -> str:
        return "eval_" + self.margin_key


# ---- what the kinds share ------------------------------------------------------------------------


def refuse_for_reward(adapter: str, task: str | None) -> str:
    return (
        f"{adapter} is a policy adapter; a reward model continues only a reward-model adapter. To start a reward "
        "model from that policy, train on its merged model (`train dpo --merge` writes OUTPUT/merged)"
    )


def refuse_for_policy(adapter: str, task: str | None) -> str:
    if task == "SEQ_CLS":
        return (
            f"{adapter} is a reward-model adapter (a score head, no language-model head); "
            "this trains a policy: start from the base model or a policy (SFT/DPO/KTO/RLOO) adapter"
        )
    return f"{adapter} is a {task or 'unknown'} adapter; a policy continues only a causal-LM (policy) adapter"


def policy_kind(**fields: Any) -> TrainerKind:
    """A kind that trains a policy: a causal LM with a LoRA adapter, continuing only a policy adapter."""
    defaults: dict[str, Any] = dict(
        head="causal-lm",
        peft_task="CAUSAL_LM",
        modules_to_save=(),
        continues_from=("CAUSAL_LM",),
        refuse_adapter=refuse_for_policy,
    )
    return TrainerKind(**{**defaults, **fields})


def trainer_inputs(req: BuildRequest, with_eval: bool = True) -> dict[str, Any]:
    """The keyword arguments every TRL trainer takes, beside its `args`."""
    inputs: dict[str, Any] = dict(
        model=req.model,
        train_dataset=req.train_dataset,
        processing_class=req.tokenizer,
        peft_config=req.peft_config,
        callbacks=list(req.callbacks),
    )
    if with_eval:
        inputs["eval_dataset"] = req.eval_dataset
    return inputs


def cut_exchange(ctx: EncodeContext, prompt: Any, answer: Any) -> dict[str, Any]:
    """(prompt ids, answer ids) within --max-length: the prompt cut from the left, a too-long answer's end cut."""
    prompt_ids, answer_ids = encode_exchange(ctx.tokenizer, prompt, answer, ctx.source)
    budget = ctx.max_length - len(answer_ids)
    floor = min(len(prompt_ids), min_prompt_tokens(ctx.max_length))
    answers_cut = budget < floor
    kept = cut_prompt(ctx.tokenizer, prompt_ids, max(budget, floor))
    if answers_cut:
        answer_ids = answer_ids[: ctx.max_length - len(kept)]
    return {
        "prompt_ids": kept,
        "completion_ids": answer_ids,
        "prompt_cut": len(kept) < len(prompt_ids),
        "answers_cut": answers_cut,
    }
