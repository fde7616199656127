"""One training run, reward or DPO: data, model, TRL trainer, checkpoints, outputs.

Imported only by `rlhf-tui train ...`: it imports torch, transformers, trl and peft.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Sequence, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .config import TrainConfig, required
from .data import PromptGroupBatchSampler, load_preference_rows, prompt_key, split_by_prompt, to_dataset
from .errors import TrainerError, TrainingOOMError
from .metrics import plot_curves, summarise, write_metrics
from .modeling import Model, Tokenizer, load_model, load_tokenizer, lora_config, merge_and_save, resolve_model_source
from .quiet import quiet_libraries

if TYPE_CHECKING:
    from transformers import Trainer, TrainerCallback
    from trl import RewardTrainer


@dataclass
class RunResult:
    output: Path
    metrics: dict[str, Any]
    interrupted: bool = False
    checkpoint: Path | None = None
    merged: Path | None = None
    is_main_process: bool = True
    trainer: Any = field(default=None, repr=False)


def _checkpointing_names() -> tuple[str, str]:
    """transformers 5 renamed gradient_checkpointing(_kwargs) to activation_checkpointing(_kwargs)."""
    from transformers import TrainingArguments

    if "activation_checkpointing" in {f.name for f in dataclasses.fields(TrainingArguments)}:
        return "activation_checkpointing", "activation_checkpointing_kwargs"
    return "gradient_checkpointing", "gradient_checkpointing_kwargs"


def trl_arguments(cfg: TrainConfig, has_eval: bool) -> dict[str, Any]:
    """The TrainingArguments shared by both trainers."""
    t, d = cfg.training, cfg.data
    on_gpu = torch.cuda.is_available()
    optim = t.optim if t.optim != "auto" else ("paged_adamw_8bit" if on_gpu else "adamw_torch")
    evaluate_during = has_eval and t.eval_steps > 0
    checkpointing, checkpointing_kwargs = _checkpointing_names()
    return dict(
        output_dir=t.output,
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum,
        learning_rate=cfg.learning_rate,
        warmup_steps=t.warmup,
        lr_scheduler_type=t.lr_scheduler,
        weight_decay=t.weight_decay,
        optim=optim,
        **{checkpointing: t.gradient_checkpointing, checkpointing_kwargs: {"use_reentrant": False}},
        bf16=t.bf16,
        fp16=False,
        logging_steps=t.logging_steps,
        logging_first_step=True,
        eval_strategy="steps" if evaluate_during else "no",
        eval_steps=t.eval_steps if evaluate_during else None,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        report_to="none",
        disable_tqdm=True,
        seed=d.seed,
        data_seed=d.seed,
        max_length=d.max_length,
        use_cpu=not on_gpu,
        ddp_find_unused_parameters=False,
    )


def oom_message(cfg: TrainConfig) -> str:
    d, t = cfg.data, cfg.training
    hints = [f"--max-length {max(64, d.max_length // 2)}"]
    if t.batch_size > 1:
        hints.append(f"--batch-size {max(1, t.batch_size // 2)} --grad-accum {t.grad_accum * 2}")
    if cfg.kind == "dpo" and not cfg.dpo.precompute_ref:
        hints.append("--precompute-ref")
    if not t.gradient_checkpointing:
        hints.append("--gradient-checkpointing")
    if not cfg.model.load_in_4bit:
        hints.append("--4bit")
    if cfg.model.lora_r > 8:
        hints.append(f"--lora-r {cfg.model.lora_r // 2}")
    return (
        f"out of memory while training (max length {d.max_length}, batch {t.batch_size}); "
        f"try {', '.join(hints)}; `--dry-run --gpu-memory SIZE` estimates the need"
    )


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def _reward_trainer_class() -> type[RewardTrainer]:
    from datasets import Dataset
    from torch.utils.data import DataLoader
    from trl import RewardTrainer

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


def build_trainer(
    cfg: TrainConfig,
    model: Model,
    tokenizer: Tokenizer,
    train_ds: Any,
    eval_ds: Any | None,
    callbacks: Sequence[TrainerCallback] = (),
) -> Trainer:
    """The TRL trainer for `cfg.kind` (a `datasets.Dataset` for each split), without transformers' printers."""
    base_args = trl_arguments(cfg, eval_ds is not None)
    peft_config = lora_config(model, cfg.model, cfg.kind)
    trainer: Trainer
    if cfg.kind == "reward":
        from trl import RewardConfig

        reward_args = RewardConfig(**base_args, center_rewards_coefficient=cfg.reward.center_rewards)
        trainer_cls = _reward_trainer_class()
        trainer = trainer_cls(
            model=model,
            args=reward_args,
            train_dataset=train_ds,
            eval_dataset=eval_ds,
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=list(callbacks),
        )
    else:
        from trl import DPOConfig, DPOTrainer

        dpo_args = DPOConfig(
            **base_args,
            beta=cfg.dpo.beta,
            loss_type=[cfg.dpo.loss_type],
            precompute_ref_log_probs=cfg.dpo.precompute_ref,
        )
        # No ref_model: with a peft adapter the reference is the base with the adapter disabled.
        trainer = DPOTrainer(
            model=model,
            args=dpo_args,
            train_dataset=train_ds,
            eval_dataset=eval_ds,
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=list(callbacks),
        )
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return trainer


def prepare_data(cfg: TrainConfig) -> tuple[Any, Any | None, dict[str, int]]:
    """The train and eval `datasets.Dataset` (eval None when nothing is held out), and the pair/prompt counts."""
    rows = load_preference_rows(cfg.data)
    train_rows, eval_rows = split_by_prompt(rows, cfg.data.eval_split, cfg.data.seed)
    keep_margin = cfg.kind == "reward" and cfg.reward.use_margin
    group = cfg.kind == "reward" and cfg.reward.group_by_prompt
    train_ds = to_dataset(train_rows, keep_margin=keep_margin, with_group=group)
    eval_ds = to_dataset(eval_rows, keep_margin=keep_margin) if eval_rows else None
    counts = {
        "train_pairs": len(train_rows),
        "eval_pairs": len(eval_rows),
        "train_prompts": len({prompt_key(r) for r in train_rows}),
        "eval_prompts": len({prompt_key(r) for r in eval_rows}),
    }
    return train_ds, eval_ds, counts


def run_training(cfg: TrainConfig, extra_callbacks: Sequence[TrainerCallback] = (), progress: bool = True) -> RunResult:
    """Train, evaluate, save; Ctrl-C saves a checkpoint and returns with `interrupted`."""
    from transformers import set_seed
    from transformers.trainer_utils import get_last_checkpoint

    from .callbacks import InterruptCallback, RichProgressCallback

    quiet_libraries()
    output = Path(required(cfg.training.output, "--output"))
    model_name = required(cfg.model.model, "--model")
    resume_from = None
    if cfg.training.resume:
        resume_from = get_last_checkpoint(str(output)) if output.is_dir() else None
        if resume_from is None:
            raise TrainerError(f"--resume: no checkpoint in {output}; run without --resume to start")
    source = resolve_model_source(model_name)  # a missing model fails before the data is read
    train_ds, eval_ds, counts = prepare_data(cfg)
    tokenizer = load_tokenizer(source, cfg.model.trust_remote_code)
    set_seed(cfg.data.seed)  # the reward head and the LoRA weights are initialised before the trainer seeds
    model = load_model(cfg.model, cfg.kind, cfg.training.bf16)
    model.config.pad_token_id = tokenizer.pad_token_id

    interrupt = InterruptCallback()
    callbacks: list[TrainerCallback] = [interrupt, *extra_callbacks]
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if progress:
        callbacks.append(RichProgressCallback(cfg.training.batch_size * cfg.training.grad_accum * world))
    try:
        trainer = build_trainer(cfg, model, tokenizer, train_ds, eval_ds, callbacks)
        kept = trainer.train_dataset  # TRL drops reward pairs longer than --max-length
        if isinstance(kept, Sized) and len(kept) == 0:
            raise TrainerError(f"no training pair fits --max-length {cfg.data.max_length}; raise it")
        start_step = 0
        if resume_from:
            start_step = json.loads((Path(resume_from) / "trainer_state.json").read_text())["global_step"]
        started = time.monotonic()
        trainer.train(resume_from_checkpoint=resume_from)
        train_seconds = time.monotonic() - started
        final_eval = None
        if not interrupt.interrupted and trainer.eval_dataset is not None:
            final_eval = trainer.evaluate()
    except BaseException as exc:
        if _is_oom(exc):
            raise TrainingOOMError(oom_message(cfg)) from None
        raise

    state = trainer.state
    is_main = trainer.accelerator.is_main_process
    extra = {
        **counts,
        "global_step": state.global_step,
        "resumed_from_step": start_step,
        "interrupted": interrupt.interrupted,
        "world_size": trainer.args.world_size,
        "train_seconds": round(train_seconds, 3),
        "base_model": model_name,
        "load_in_4bit": cfg.model.load_in_4bit,
    }
    metrics = summarise(cfg.kind, state.log_history, final_eval, extra)
    result = RunResult(
        output=output, metrics=metrics, interrupted=interrupt.interrupted, is_main_process=is_main, trainer=trainer
    )
    if interrupt.interrupted:
        result.checkpoint = output / f"checkpoint-{state.global_step}"
        if is_main:
            write_metrics(output / "metrics.json", metrics)
        return result

    trainer.save_model(str(output))  # adapter (+ reward head via modules_to_save) and tokenizer
    if is_main:
        tokenizer.save_pretrained(output)
        cfg.write(output / "train_config.yaml")
        write_metrics(output / "metrics.json", metrics)
        plot_curves(output / "curves.png", cfg.kind, metrics)
    trainer.accelerator.wait_for_everyone()
    if cfg.training.merge and is_main:
        result.merged = merge_and_save(output, model_name, cfg.kind, cfg.model.trust_remote_code)
    return result
