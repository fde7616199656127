"""The table of training kinds: one entry per trainer, instead of if/else on the kind everywhere.

An entry says which config section the kind adds, its default learning rate, the head and peft task
of its model, which adapters a run may continue from, how one preference row becomes the tokenised
row its TRL trainer reads, how the trainer is built, and which logged metrics are its accuracy and
margin. Adding a trainer (SFT, KTO, RLOO) is one `TrainerKind` here and, if it has options of its own,
one section dataclass in `trainers.config`.

Light at import: the TRL classes are imported inside the builders, so `config` and `metrics` can read
the table without torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .formatting import cut_prompt, encode_exchange, encode_pair, encode_prompt, min_prompt_tokens

if TYPE_CHECKING:
    from peft import LoraConfig
    from transformers import Trainer, TrainerCallback

    from .config import TrainConfig

Tokenizer = Any
Model = Any


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


@dataclass(frozen=True)
class TrainerKind:
    name: str
    summary: str
    sections: tuple[str, ...]  # config sections of its own, beside data/model/training
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
    refuse_adapter: Callable[[str, str | None], str] = field(default=lambda adapter, task: "")
    data_format: str = "preference"  # the rows it reads: `store.export_rows` format, or "prompts" (RLOO)
    evaluates: bool = True  # holds out rows for an eval split (RLOO does not: `rlhf-tui eval` judges it)
    all_dropout_off: bool = False  # RL: the sampled and the trained log-probs must come from the same network
    log_figures: tuple[tuple[str, str], ...] = ()  # (label, logged key) on each plain log line; () = accuracy, margin
    margin_label: str = "mean margin"

    @property
    def eval_accuracy_key(self) -> str:
        return "eval_" + self.accuracy_key

    @property
    def eval_margin_key(self) -> str:
        return "eval_" + self.margin_key


# ---- data preparation ----------------------------------------------------------------------------


def _encode_reward(ctx: EncodeContext, row: dict[str, Any]) -> dict[str, Any] | None:
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


def _encode_dpo(ctx: EncodeContext, row: dict[str, Any]) -> dict[str, Any] | None:
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


def _cut_exchange(ctx: EncodeContext, prompt: Any, answer: Any) -> dict[str, Any]:
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


def _encode_sft(ctx: EncodeContext, row: dict[str, Any]) -> dict[str, Any] | None:
    # Loss on the completion only: the mask marks the answer's tokens (TRL's completion_only_loss reads it).
    cut = _cut_exchange(ctx, row["prompt"], row["completion"])
    if not cut["completion_ids"]:
        return None
    return {
        "input_ids": cut["prompt_ids"] + cut["completion_ids"],
        "completion_mask": [0] * len(cut["prompt_ids"]) + [1] * len(cut["completion_ids"]),
        "prompt_cut": cut["prompt_cut"],
        "answers_cut": cut["answers_cut"],
    }


def _encode_kto(ctx: EncodeContext, row: dict[str, Any]) -> dict[str, Any] | None:
    cut = _cut_exchange(ctx, row["prompt"], row["completion"])
    if not cut["completion_ids"]:
        return None
    return {**cut, "label": bool(row["label"])}


def _encode_rloo(ctx: EncodeContext, row: dict[str, Any]) -> dict[str, Any] | None:
    # The trainer generates from the raw prompt; `RLOOPromptTrainer` tokenises and cuts it (left) the same way.
    encode_prompt(ctx.tokenizer, row["prompt"], ctx.source)  # chat data without a template fails here, in one line
    return {"prompt": row["prompt"]}


# ---- trainers ------------------------------------------------------------------------------------


def _reward_trainer_class() -> type:
    from datasets import Dataset
    from torch.utils.data import DataLoader
    from trl import RewardTrainer

    from .data import PromptGroupBatchSampler

    class PromptGroupedRewardTrainer(RewardTrainer):
        """RewardTrainer whose batches keep every pair of a prompt together (when the data has `group_id`)."""

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


def _build_reward(req: BuildRequest) -> Trainer:
    from trl import RewardConfig

    # disable_dropout=False: TRL's default would zero the LoRA dropout too; run.py turns off the base's own.
    args = RewardConfig(
        **req.arguments, center_rewards_coefficient=req.cfg.reward.center_rewards, disable_dropout=False
    )
    trainer: Trainer = _reward_trainer_class()(
        model=req.model,
        args=args,
        train_dataset=req.train_dataset,
        eval_dataset=req.eval_dataset,
        processing_class=req.tokenizer,
        peft_config=req.peft_config,
        callbacks=list(req.callbacks),
    )
    return trainer


def _dpo_trainer_class() -> type:
    from datasets import Dataset
    from trl import DPOTrainer

    class PretokenizedDPOTrainer(DPOTrainer):
        """DPOTrainer that takes our tokenised rows as they are (prompts already cut to fit, nothing dropped)."""

        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            if isinstance(dataset, Dataset) and "prompt_ids" in dataset.column_names:
                return dataset
            return super()._prepare_dataset(dataset, processing_class, args, dataset_name)

    return PretokenizedDPOTrainer


def _build_dpo(req: BuildRequest) -> Trainer:
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
    trainer: Trainer = _dpo_trainer_class()(
        model=req.model,
        args=args,
        train_dataset=req.train_dataset,
        eval_dataset=req.eval_dataset,
        processing_class=req.tokenizer,
        peft_config=req.peft_config,
        callbacks=list(req.callbacks),
    )
    return trainer


def _build_sft(req: BuildRequest) -> Trainer:
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(
        **req.arguments,
        completion_only_loss=True,  # explicit: the loss is on the answer, never on the prompt
        packing=req.cfg.sft.packing,
        packing_strategy="bfd",
        dataset_kwargs={"skip_prepare_dataset": False},
    )
    trainer: Trainer = SFTTrainer(
        model=req.model,
        args=args,
        train_dataset=req.train_dataset,
        eval_dataset=req.eval_dataset,
        processing_class=req.tokenizer,
        peft_config=req.peft_config,
        callbacks=list(req.callbacks),
    )
    return trainer


def _kto_trainer_class() -> type:
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


def _build_kto(req: BuildRequest) -> Trainer:
    from trl import KTOConfig

    k = req.cfg.kto
    args = KTOConfig(
        **req.arguments,
        beta=k.beta,
        desirable_weight=k.desirable_weight,
        undesirable_weight=k.undesirable_weight,
        disable_dropout=False,  # as for DPO: LoRA dropout stays, the base's own is turned off
    )
    trainer: Trainer = _kto_trainer_class()(
        model=req.model,
        args=args,
        train_dataset=req.train_dataset,
        eval_dataset=req.eval_dataset,
        processing_class=req.tokenizer,
        peft_config=req.peft_config,
        callbacks=list(req.callbacks),
    )
    return trainer


def _rloo_trainer_class() -> type:
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


def _build_rloo(req: BuildRequest) -> Trainer:
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
    cls = _rloo_trainer_class()
    trainer: Trainer = cls(
        model=req.model,
        reward_funcs=list(req.reward_funcs),
        args=args,
        train_dataset=req.train_dataset,
        processing_class=req.tokenizer,
        peft_config=req.peft_config,
        callbacks=list(req.callbacks),
    )
    trainer.prompt_budget = req.cfg.data.max_length - r.max_new_tokens  # type: ignore[attr-defined]
    return trainer


def _refuse_for_reward(adapter: str, task: str | None) -> str:
    return (
        f"{adapter} is a policy adapter; a reward model continues only a reward-model adapter. To start a reward "
        "model from that policy, train on its merged model (`train dpo --merge` writes OUTPUT/merged)"
    )


def _refuse_for_policy(adapter: str, task: str | None) -> str:
    if task == "SEQ_CLS":
        return (
            f"{adapter} is a reward-model adapter (a score head, no language-model head); "
            "this trains a policy: start from the base model or a policy (SFT/DPO/KTO/RLOO) adapter"
        )
    return f"{adapter} is a {task or 'unknown'} adapter; a policy continues only a causal-LM (policy) adapter"


KINDS: dict[str, TrainerKind] = {
    kind.name: kind
    for kind in (
        TrainerKind(
            name="reward",
            summary="a reward model: a one-output head on the base, trained on preference pairs",
            sections=("reward",),
            learning_rate=1e-4,
            head="sequence-classification",
            peft_task="SEQ_CLS",
            modules_to_save=("score",),  # the head is new: train it fully and save it with the adapter
            continues_from=("SEQ_CLS",),
            accuracy_key="accuracy",
            margin_key="margin",
            accuracy_label="pairwise accuracy",
            encode=_encode_reward,
            build=_build_reward,
            refuse_adapter=_refuse_for_reward,
        ),
        TrainerKind(
            name="dpo",
            summary="a policy trained with DPO against the base (or the adapter it continues)",
            sections=("dpo",),
            learning_rate=5e-6,
            head="causal-lm",
            peft_task="CAUSAL_LM",
            modules_to_save=(),
            continues_from=("CAUSAL_LM",),
            accuracy_key="rewards/accuracies",
            margin_key="rewards/margins",
            accuracy_label="reward accuracy",
            encode=_encode_dpo,
            build=_build_dpo,
            refuse_adapter=_refuse_for_policy,
        ),
        TrainerKind(
            name="sft",
            summary="a policy fine-tuned on instruction data (the best or written answer per prompt)",
            sections=("sft",),
            learning_rate=2e-4,
            head="causal-lm",
            peft_task="CAUSAL_LM",
            modules_to_save=(),
            continues_from=("CAUSAL_LM",),
            accuracy_key="mean_token_accuracy",
            margin_key="entropy",
            accuracy_label="token accuracy",
            encode=_encode_sft,
            build=_build_sft,
            refuse_adapter=_refuse_for_policy,
            data_format="sft",
            log_figures=(("token accuracy", "mean_token_accuracy"), ("entropy", "entropy")),
            margin_label="entropy",
        ),
        TrainerKind(
            name="kto",
            summary="a policy trained with KTO on answers marked desirable or not (thumbs, ratings)",
            sections=("kto",),
            learning_rate=5e-6,
            head="causal-lm",
            peft_task="CAUSAL_LM",
            modules_to_save=(),
            continues_from=("CAUSAL_LM",),
            accuracy_key="rewards/margins",
            margin_key="kl",
            accuracy_label="reward margin",
            encode=_encode_kto,
            build=_build_kto,
            refuse_adapter=_refuse_for_policy,
            data_format="kto",
            log_figures=(("reward margin", "rewards/margins"), ("kl", "kl")),
            margin_label="kl",
        ),
        TrainerKind(
            name="rloo",
            summary="a policy optimised online against a reward model (RLOO, leave-one-out baseline)",
            sections=("rloo",),
            learning_rate=1e-5,
            head="causal-lm",
            peft_task="CAUSAL_LM",
            modules_to_save=(),
            continues_from=("CAUSAL_LM",),
            accuracy_key="reward",
            margin_key="kl",
            accuracy_label="mean reward",
            encode=_encode_rloo,
            build=_build_rloo,
            refuse_adapter=_refuse_for_policy,
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
        ),
    )
}


def kind_of(name: str) -> TrainerKind:
    from .errors import ConfigError

    try:
        return KINDS[name]
    except KeyError:
        raise ConfigError(f"unknown training kind: {name} (known: {', '.join(KINDS)})") from None
