"""One training run of any kind in `trainers.kinds`: data, model, TRL trainer, checkpoints, outputs.

Imported only by `rlhf-tui train ...`: it imports torch, transformers, trl and peft.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Sequence, Sized
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .config import TrainConfig, report_to, required
from .data import (
    EncodedSplit,
    encode_split,
    holdout_side,
    load_rows,
    prompt_key,
    shuffled,
    source_name,
    split_by_prompt,
    to_dataset,
)
from .errors import TrainerError, TrainingOOMError
from .kinds import BuildRequest, EncodeContext, kind_of
from .metrics import plot_curves, summarise, write_metrics
from .modeling import (
    Model,
    ModelSource,
    Tokenizer,
    check_continuable,
    keep_only_lora_dropout,
    load_model,
    load_tokenizer,
    lora_config,
    merge_and_save,
    resolve_model_source,
)
from .precision import Precision, resolve_precision
from .quiet import quiet_libraries
from .shares import PairScores

if TYPE_CHECKING:
    from transformers import Trainer, TrainerCallback

Say = Callable[[str], None]  # prints one line for the person running the command


def _say_on_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"


@dataclass
class RunResult:
    output: Path
    metrics: dict[str, Any]
    interrupted: bool = False
    checkpoint: Path | None = None
    merged: Path | None = None
    is_main_process: bool = True
    precision: Precision | None = None
    trainer: Any = field(default=None, repr=False)


def with_precision(cfg: TrainConfig) -> tuple[TrainConfig, Precision]:
    """The config with --bf16/--4bit resolved for this device (auto → on or off), and why."""
    precision = resolve_precision(cfg.training.bf16, cfg.model.load_in_4bit)
    resolved = dataclasses.replace(
        cfg,
        model=dataclasses.replace(cfg.model, load_in_4bit=precision.load_in_4bit),
        training=dataclasses.replace(cfg.training, bf16=precision.bf16),
    )
    return resolved, precision


def _checkpointing_names() -> tuple[str, str]:
    """transformers 5 renamed gradient_checkpointing(_kwargs) to activation_checkpointing(_kwargs)."""
    from transformers import TrainingArguments

    if "activation_checkpointing" in {f.name for f in dataclasses.fields(TrainingArguments)}:
        return "activation_checkpointing", "activation_checkpointing_kwargs"
    return "gradient_checkpointing", "gradient_checkpointing_kwargs"


# The package each --report-to integration needs, and the ones that can stand in for it.
REPORTING_PACKAGES = {
    "tensorboard": ("tensorboard", "tensorboardX"),
    "wandb": ("wandb",),
    "trackio": ("trackio",),
    "mlflow": ("mlflow",),
}


def reporting(cfg: TrainConfig) -> list[str]:
    """--report-to, checked: a missing package is one line now, not a traceback after the model loaded."""
    names = report_to(cfg.training)
    for name in names:
        packages = REPORTING_PACKAGES.get(name, ())
        if packages and not any(find_spec(p) for p in packages):
            raise TrainerError(f"--report-to {name} needs the {packages[0]} package: pip install {packages[0]}")
    return names


def best_checkpoint_arguments(cfg: TrainConfig, evaluate_during: bool) -> dict[str, Any]:
    """--keep-best: load the best evaluated checkpoint at the end, so it is the adapter saved in OUTPUT."""
    keep = cfg.training.keep_best
    if not evaluate_during or keep == "last":
        return {}
    kind = kind_of(cfg.kind)
    # accuracy: the held-out share of pairs where the kind scores pairs, else TRL's logged figure
    metric = "eval_loss" if keep == "loss" else ("eval_pair_accuracy" if kind.pair_scores else kind.eval_accuracy_key)
    return dict(load_best_model_at_end=True, metric_for_best_model=metric, greater_is_better=keep != "loss")


def trl_arguments(cfg: TrainConfig, has_eval: bool) -> dict[str, Any]:
    """The TrainingArguments every kind shares (the kind's builder adds its own)."""
    if cfg.training.bf16 is None or cfg.model.load_in_4bit is None:
        cfg, _ = with_precision(cfg)
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
        **{
            checkpointing: t.gradient_checkpointing,
            checkpointing_kwargs: {"use_reentrant": t.reentrant_checkpointing},
        },
        bf16=bool(t.bf16),
        fp16=False,
        logging_steps=t.logging_steps,
        logging_first_step=True,
        eval_strategy="steps" if evaluate_during else "no",
        eval_steps=t.eval_steps if evaluate_during else None,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        **best_checkpoint_arguments(cfg, evaluate_during),
        report_to=reporting(cfg) or "none",  # tensorboard writes into OUTPUT/runs: offline
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


def build_trainer(
    cfg: TrainConfig,
    model: Model,
    tokenizer: Tokenizer,
    train_ds: Any,
    eval_ds: Any | None,
    callbacks: Sequence[TrainerCallback] = (),
    reward_funcs: Sequence[Callable[..., list[float]]] = (),
) -> Trainer:
    """The TRL trainer of `cfg.kind` (a `datasets.Dataset` of tokenised rows per split), without
    transformers' printers; a peft model (an adapter being continued) gets no second LoRA config."""
    from peft import PeftModel

    peft_config = None if isinstance(model, PeftModel) else lora_config(model, cfg.model, cfg.kind)
    request = BuildRequest(
        cfg=cfg,
        arguments=trl_arguments(cfg, eval_ds is not None),
        model=model,
        tokenizer=tokenizer,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        peft_config=peft_config,
        callbacks=callbacks,
        reward_funcs=reward_funcs,
    )
    kind = kind_of(cfg.kind)
    trainer = kind.build(request)
    if kind.all_dropout_off and trainer.model is not None:
        for module in trainer.model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    else:
        keep_only_lora_dropout(trainer.model)
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return trainer


@dataclass
class PreparedData:
    """The tokenised splits as `datasets.Dataset`s (eval None when nothing is held out) and their counts."""

    train: Any
    eval: Any | None
    train_split: EncodedSplit
    eval_split: EncodedSplit
    train_prompts: int
    eval_prompts: int
    kept_out_prompts: int = 0  # the other side of --holdout

    def counts(self) -> dict[str, int]:
        return {
            "train_pairs": len(self.train_split.rows),
            "eval_pairs": len(self.eval_split.rows),
            "train_pairs_dropped": self.train_split.dropped,
            "eval_pairs_dropped": self.eval_split.dropped,
            "prompts_cut": self.train_split.prompts_cut + self.eval_split.prompts_cut,
            "answers_cut": self.train_split.answers_cut + self.eval_split.answers_cut,
            "train_prompts": self.train_prompts,
            "eval_prompts": self.eval_prompts,
        }


def prepare_data(cfg: TrainConfig, tokenizer: Tokenizer, source: str = "the model") -> PreparedData:
    """Rows read, split by prompt, and tokenised by the kind's encoder (prompts cut from the left to fit)."""
    kind = kind_of(cfg.kind)
    rows = load_rows(cfg.data, kind.data_format, cfg.kto.threshold if cfg.kind == "kto" else None)
    all_prompts = len({prompt_key(r) for r in rows})
    rows = holdout_side(rows, cfg.data.holdout, cfg.data.holdout_only, source_name(cfg.data))
    train_rows, eval_rows = split_by_prompt(rows, cfg.data.eval_split if kind.evaluates else 0.0, cfg.data.seed)
    if cfg.kind == "kto":  # KTO reads batches in order and pairs answers within one: mix records and labels
        train_rows, eval_rows = shuffled(train_rows, cfg.data.seed), shuffled(eval_rows, cfg.data.seed)
    context = EncodeContext(tokenizer=tokenizer, max_length=cfg.data.max_length, cfg=cfg, source=source)

    def encode(row: dict[str, Any]) -> dict[str, Any] | None:
        return kind.encode(context, row)

    group = cfg.kind == "reward" and cfg.reward.group_by_prompt
    train_split = encode_split(train_rows, encode, with_group=group)
    eval_split = encode_split(eval_rows, encode)
    if not train_split.rows:
        raise TrainerError(
            f"no training pair fits --max-length {cfg.data.max_length} (every answer leaves too little room for "
            "its prompt); raise --max-length"
        )
    return PreparedData(
        train=to_dataset(train_split.rows),
        eval=to_dataset(eval_split.rows) if eval_split.rows else None,
        train_split=train_split,
        eval_split=eval_split,
        train_prompts=len({prompt_key(r) for r in train_rows}),
        eval_prompts=len({prompt_key(r) for r in eval_rows}),
        kept_out_prompts=all_prompts - len({prompt_key(r) for r in rows}),
    )


def holdout_note(cfg: TrainConfig, data: PreparedData) -> str | None:
    """Which side of --holdout the run trained on, in prompts."""
    d = cfg.data
    if d.holdout <= 0:
        return None
    mine, other = data.train_prompts + data.eval_prompts, data.kept_out_prompts
    if d.holdout_only:
        return f"--holdout {d.holdout} --holdout-only: the {mine} held-out prompts, none of the other {other}"
    return f"--holdout {d.holdout}: {mine} prompts, {other} held out (for a judge: --holdout-only)"


def length_notes(cfg: TrainConfig, data: PreparedData) -> list[str]:
    """What --max-length did to the data, in words, with the hint that changes it."""
    notes = []
    dropped = data.train_split.dropped + data.eval_split.dropped
    given = data.train_split.given + data.eval_split.given
    if dropped:
        many = " — many; the metrics describe the shorter pairs only" if dropped * 10 >= given else ""
        notes.append(
            f"warning: {dropped} of {given} pairs dropped: an answer leaves too little room for its prompt within "
            f"--max-length {cfg.data.max_length}{many}; raise --max-length to keep them"
        )
    cut = data.train_split.prompts_cut + data.eval_split.prompts_cut
    if cut:
        notes.append(
            f"{cut} of {given} pairs have their prompt cut from the left to fit --max-length {cfg.data.max_length} "
            "(the end of the conversation and the whole answer kept)"
        )
    answers = data.train_split.answers_cut + data.eval_split.answers_cut
    if answers:
        notes.append(
            f"{answers} of {given} pairs have answers longer than --max-length {cfg.data.max_length} allows: "
            "trained on their first tokens; raise --max-length to keep them whole"
        )
    return notes


def held_out_pairs(trainer: Trainer) -> tuple[PairScores | None, list[float]]:
    """The last evaluation's held-out pairs (kinds that score pairs) and each pair's mean answer length."""
    from datasets import Dataset

    held_out = getattr(trainer, "held_out", None)
    dataset = trainer.eval_dataset
    if not isinstance(held_out, PairScores) or not isinstance(dataset, Dataset):
        return None, []
    lengths = dataset["answer_tokens"] if "answer_tokens" in dataset.column_names else []
    return held_out, list(lengths)


def _drop_reference_copy(model: Model) -> None:
    """Continuing an adapter with DPO, TRL adds a frozen copy of it ("ref"); the output keeps only the trained one."""
    peft_config = getattr(model, "peft_config", None)
    if isinstance(peft_config, dict) and "ref" in peft_config:
        model.delete_adapter("ref")


def _progress_callback(kind_name: str, pairs_per_step: int, progress: bool) -> TrainerCallback | None:
    """A progress bar on a terminal; a plain line per logging step in a log file, under nohup or a scheduler."""
    if not progress:
        return None
    from rich.console import Console

    from .callbacks import PlainLogCallback, RichProgressCallback

    kind = kind_of(kind_name)
    console = Console(stderr=True)
    if console.is_terminal:
        return RichProgressCallback(pairs_per_step, console=console)
    return PlainLogCallback(pairs_per_step, kind.accuracy_key, kind.margin_key, figures=kind.log_figures or None)


def run_training(
    cfg: TrainConfig,
    extra_callbacks: Sequence[TrainerCallback] = (),
    progress: bool = True,
    say: Say | None = None,
    reward_function: Callable[..., list[float]] | None = None,
) -> RunResult:
    """Train, evaluate, save; Ctrl-C saves a checkpoint and returns with `interrupted`.

    `say` prints the run's one-line notes (precision chosen, pairs dropped or cut, adapter continued);
    by default on stderr, from the main process only. `reward_function` (RLOO): a TRL reward function
    used instead of the --reward-model (tests, or a programmatic reward)."""
    from transformers import set_seed
    from transformers.trainer_utils import get_last_checkpoint

    from .callbacks import InterruptCallback

    main = _is_main_process()
    tell: Say = (say or _say_on_stderr) if main else (lambda line: None)
    quiet_libraries()
    cfg, precision = with_precision(cfg)
    output = Path(required(cfg.training.output, "--output"))
    model_name = required(cfg.model.model, "--model")
    resume_from = None
    if cfg.training.resume:
        resume_from = get_last_checkpoint(str(output)) if output.is_dir() else None
        if resume_from is None:
            raise TrainerError(f"--resume: no checkpoint in {output}; run without --resume to start")
    reporting(cfg)  # a missing logging package fails before anything loads
    if cfg.kind == "rloo" and reward_function is None:
        resolve_model_source(required(cfg.rloo.reward_model, "--reward-model"))  # fails before the policy loads
    source = resolve_model_source(model_name)  # a missing model fails before the data is read
    if source.adapter:
        check_continuable(source, cfg.kind)
    tokenizer = load_tokenizer(source, cfg.model.trust_remote_code, cfg.model.chat_template)
    data = prepare_data(cfg, tokenizer, model_name)
    tell(precision.describe())
    for note in [holdout_note(cfg, data), *length_notes(cfg, data)]:
        if note:
            tell(note)
    set_seed(cfg.data.seed)  # the reward head and the LoRA weights are initialised before the trainer seeds
    model = load_model(cfg.model, cfg.kind, bool(cfg.training.bf16), trainable=True)
    if source.adapter:
        tell(_continuing_note(source))
    model.config.pad_token_id = tokenizer.pad_token_id

    interrupt = InterruptCallback()
    callbacks: list[TrainerCallback] = [interrupt, *extra_callbacks]
    world = int(os.environ.get("WORLD_SIZE", "1"))
    shown = _progress_callback(cfg.kind, cfg.training.batch_size * cfg.training.grad_accum * world, progress)
    if shown is not None:
        callbacks.append(shown)
    reward_funcs = rloo_rewards(cfg, output, reward_function, tell) if cfg.kind == "rloo" else []
    if cfg.kind == "rloo" and cfg.rloo.mask_truncated:
        from .callbacks import AllCutWarningCallback

        callbacks.append(AllCutWarningCallback(tell))
    try:
        trainer = build_trainer(cfg, model, tokenizer, data.train, data.eval, callbacks, reward_funcs)
        kept = trainer.train_dataset
        if isinstance(kept, Sized) and len(kept) != len(data.train_split.rows):  # TRL dropped some after all
            raise TrainerError(
                f"the trainer kept {len(kept)} of {len(data.train_split.rows)} training pairs; raise --max-length"
            )
        start_step = 0
        if resume_from:
            start_step = json.loads((Path(resume_from) / "trainer_state.json").read_text())["global_step"]
        started = time.monotonic()
        trainer.train(resume_from_checkpoint=resume_from)
        train_seconds = time.monotonic() - started
        final_eval = None
        held_out: PairScores | None = None
        answer_tokens: list[float] = []
        if not interrupt.interrupted and trainer.eval_dataset is not None:
            final_eval = trainer.evaluate()
            held_out, answer_tokens = held_out_pairs(trainer)
    except BaseException as exc:
        if _is_oom(exc):
            raise TrainingOOMError(oom_message(cfg)) from None
        raise

    state = trainer.state
    is_main = trainer.accelerator.is_main_process
    extra = {
        **data.counts(),
        "global_step": state.global_step,
        "resumed_from_step": start_step,
        "interrupted": interrupt.interrupted,
        "world_size": trainer.args.world_size,
        "train_seconds": round(train_seconds, 3),
        "base_model": source.path,
        "continued_adapter": source.adapter,
        "load_in_4bit": bool(cfg.model.load_in_4bit),
        "bf16": bool(cfg.training.bf16),
        "precision_reason": precision.reason,
        "best_checkpoint": state.best_model_checkpoint,
        "best_metric": state.best_metric,
    }
    metrics = summarise(cfg.kind, state.log_history, final_eval, extra, held_out, answer_tokens)
    result = RunResult(
        output=output,
        metrics=metrics,
        interrupted=interrupt.interrupted,
        is_main_process=is_main,
        precision=precision,
        trainer=trainer,
    )
    if interrupt.interrupted:
        result.checkpoint = output / f"checkpoint-{state.global_step}"
        if is_main:
            write_metrics(output / "metrics.json", metrics)
        return result

    _drop_reference_copy(trainer.model)
    trainer.save_model(str(output))  # adapter (+ reward head via modules_to_save) and tokenizer
    if is_main:
        tokenizer.save_pretrained(output)
        cfg.write(output / "train_config.yaml")
        write_metrics(output / "metrics.json", metrics)
        plot_curves(output / "curves.png", cfg.kind, metrics)
    trainer.accelerator.wait_for_everyone()
    if cfg.training.merge and is_main:
        # the output adapter applies to the base itself, also when it continued another adapter
        result.merged = merge_and_save(output, source.path, cfg.kind, cfg.model.trust_remote_code)
    return result


def rloo_rewards(
    cfg: TrainConfig, output: Path, reward_function: Callable[..., list[float]] | None, tell: Say
) -> list[Callable[..., list[float]]]:
    """RLOO's reward functions: the reward model (or the given function), logged to OUTPUT/samples.jsonl,
    and the length penalty when asked for."""
    from .rewards import SampleLog, length_penalty_reward, load_reward_model, reward_model_reward

    r = cfg.rloo
    if reward_function is None:
        spec = required(r.reward_model, "--reward-model")
        reward_model, reward_tokenizer = load_reward_model(spec, cfg.model.trust_remote_code)
        tell(f"reward model {spec}: loaded once, frozen ({'4-bit' if torch.cuda.is_available() else 'float32'})")
        reward_function = reward_model_reward(reward_model, reward_tokenizer, cfg.data.max_length, r.reward_batch_size)
    funcs = [SampleLog(output / "samples.jsonl", r.sample_every).wrap(reward_function)]
    if r.length_penalty:
        funcs.append(length_penalty_reward(r.length_penalty))
    return funcs


def _continuing_note(source: ModelSource) -> str:
    config = json.loads((Path(str(source.adapter)) / "adapter_config.json").read_text())
    return (
        f"continuing adapter {source.adapter}: its own LoRA settings apply (r={config.get('r')}, "
        f"alpha={config.get('lora_alpha')}, dropout={config.get('lora_dropout')}); --lora-* options are not used"
    )
