"""Training configuration: one dataclass per concern, a config file (TOML or YAML), flags on top.

The sections every kind shares (data, model, training) are here; each kind's own section is declared
in its module in `trainers.kinds` and re-exported here.

Defaults are the known-good QLoRA recipe (4-bit NF4 with double quantisation, LoRA r=16 on every
linear layer, bf16 compute, non-reentrant gradient checkpointing, paged 8-bit AdamW on a GPU);
--4bit and --bf16 are auto, off on a CPU without bf16 instructions (see trainers.precision).
Pure Python: importing this module never imports torch.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from store.names import AGGREGATIONS

from .errors import ConfigError
from .kinds import KINDS
from .kinds.base import help_text as _help
from .kinds.dpo import DPOArgs
from .kinds.kto import KTOArgs
from .kinds.reward import RewardArgs
from .kinds.rloo import RLOOArgs
from .kinds.sft import SFTArgs

T = TypeVar("T")

ATTN_IMPLEMENTATIONS = ("sdpa", "eager", "flash_attention_2", "flash_attention_3", "flex_attention")
KEEP_BEST = ("loss", "accuracy", "last")
REPORT_TO = ("tensorboard", "wandb", "trackio", "mlflow", "none")


@dataclass
class DataArgs:
    """Where the preference pairs come from and how they are split and cut."""

    data: str | None = field(
        default=None,
        metadata=_help(
            "A preference file (Parquet or JSONL: prompt, chosen, rejected; optional margin, record_id, annotator)."
        ),
    )
    dataset: str | None = field(
        default=None, metadata=_help("A dataset in the store (the rows `rlhf-tui export --format preference` writes).")
    )
    store: str | None = field(
        default=None, metadata=_help("The DuckDB store for --dataset (default: $RLHF_TUI_STORE, else ./rlhf.duckdb).")
    )
    aggregate: str = field(
        default="all",
        metadata=_help(
            "With --dataset: keep every annotator's pairs ('all') or aggregate them "
            f"({', '.join(repr(a) for a in AGGREGATIONS if a != 'all')})."
        ),
    )
    eval_split: float = field(
        default=0.1,
        metadata=_help(
            "Fraction of prompts held out for evaluation; no prompt is in both splits (0 turns evaluation off)."
        ),
    )
    holdout: float = field(
        default=0.0,
        metadata=_help(
            "Fraction of the prompts kept out of training, chosen by a fixed hash of each prompt's text: every run "
            "given the same --holdout keeps out the same prompts, whatever its kind, seed or --eval-split, and a "
            "prompt added later moves no other (0 trains on every prompt)."
        ),
    )
    holdout_only: bool = field(
        default=False,
        metadata=_help(
            "Train on the prompts --holdout keeps out, and on no other: a judge reward model for `rlhf-tui eval` "
            "that shares no prompt with the runs trained with the same --holdout."
        ),
    )
    max_length: int = field(
        default=1024,
        metadata=_help(
            "Longest prompt + answer in tokens. A longer prompt is cut from the left (the end of the conversation "
            "and the whole answer stay); a pair whose answer alone leaves too little room is dropped and counted."
        ),
    )
    seed: int = field(default=42, metadata=_help("Random seed for the split, the shuffling and the adapter init."))


@dataclass
class ModelArgs:
    """The base model, its quantisation and the LoRA adapter."""

    model: str | None = field(
        default=None,
        metadata=_help(
            "Base model: a local Hugging Face folder, a .gguf file, or a hub id (when online); or an adapter "
            "folder of an earlier run of the same kind, whose adapter this run trains further."
        ),
    )
    load_in_4bit: bool | None = field(
        default=None,
        metadata=_help(
            "Load the base in 4-bit NF4 with double quantisation (QLoRA); off = plain LoRA over a 16-bit base. "
            "Auto: on with a GPU and on CPUs with AMX/AVX-512 BF16, off on other CPUs (float32 LoRA is faster there)."
        ),
    )
    lora_r: int = field(default=16, metadata=_help("LoRA rank."))
    lora_alpha: int = field(default=32, metadata=_help("LoRA alpha (scaling = alpha / r)."))
    lora_dropout: float = field(
        default=0.05,
        metadata=_help(
            "Dropout on the input of every LoRA branch while training (the base model's own dropout stays off)."
        ),
    )
    lora_target_modules: str = field(
        default="all-linear",
        metadata=_help("Modules that get LoRA: 'all-linear' or a comma-separated list such as q_proj,v_proj."),
    )
    attn_implementation: str = field(
        default="sdpa",
        metadata=_help(f"Attention kernel: {', '.join(ATTN_IMPLEMENTATIONS)} (flash_attention_2 needs flash-attn)."),
    )
    chat_template: str | None = field(
        default=None,
        metadata=_help(
            "A Jinja chat template file for a tokenizer that has none (needed for chat data); saved with the output."
        ),
    )
    trust_remote_code: bool = field(default=False, metadata=_help("Allow model code shipped with the checkpoint."))


@dataclass
class TrainArgs:
    """The optimisation loop, checkpoints and outputs."""

    output: str | None = field(
        default=None,
        metadata=_help(
            "Output folder: adapter (with reward head), tokenizer, resolved config, metrics.json, curves.png, checkpoints."
        ),
    )
    epochs: float = field(default=1.0, metadata=_help("Passes over the training pairs."))
    max_steps: int = field(default=-1, metadata=_help("Stop after this many optimiser steps (-1: run the epochs)."))
    batch_size: int = field(default=4, metadata=_help("Pairs per device per forward pass."))
    grad_accum: int = field(default=4, metadata=_help("Forward passes per optimiser step."))
    learning_rate: float | None = field(
        default=None,
        metadata=_help("Peak learning rate (default: the kind's: 1e-4 reward, 2e-4 SFT, 5e-5 DPO and KTO, 1e-5 RLOO)."),
    )
    warmup: float = field(default=0.1, metadata=_help("Linear warm-up: a fraction of the steps (<1) or a count."))
    lr_scheduler: str = field(default="cosine", metadata=_help("Learning-rate schedule after warm-up."))
    weight_decay: float = field(default=0.0, metadata=_help("AdamW weight decay."))
    optim: str = field(
        default="auto",
        metadata=_help(
            "Optimiser: 'auto' = paged 8-bit AdamW on a GPU, AdamW on the CPU; or any transformers optim name."
        ),
    )
    gradient_checkpointing: bool = field(
        default=True,
        metadata=_help("Recompute activations in the backward pass: less memory, ~20% slower."),
    )
    reentrant_checkpointing: bool = field(
        default=False,
        metadata=_help(
            "Use torch's reentrant checkpointing instead of the non-reentrant default (DeepSpeed ZeRO-3 needs it)."
        ),
    )
    bf16: bool | None = field(
        default=None,
        metadata=_help(
            "bf16 mixed precision (fp16 gives NaN rewards; not offered). Auto: on where the device computes bf16 "
            "fast (a GPU with bf16, a CPU with AMX/AVX-512 BF16) or 4-bit is on, off otherwise."
        ),
    )
    logging_steps: int = field(default=10, metadata=_help("Log loss and metrics every N steps."))
    report_to: str = field(
        default="none",
        metadata=_help(
            "Where the logs also go: tensorboard (offline, into OUTPUT/runs), wandb, or none; TRL's names, "
            "comma-separated for several."
        ),
    )
    eval_steps: int = field(
        default=0, metadata=_help("Evaluate on the held-out pairs every N steps (0: once, at the end).")
    )
    keep_best: str = field(
        default="loss",
        metadata=_help(
            "With --eval-steps: the adapter saved in OUTPUT is the checkpoint with the best eval 'loss' or "
            "'accuracy', or the last one ('last'). --save-steps must be a multiple of --eval-steps."
        ),
    )
    save_steps: int = field(default=200, metadata=_help("Write a checkpoint every N steps (Ctrl-C also writes one)."))
    save_total_limit: int = field(default=2, metadata=_help("Keep this many checkpoints."))
    resume: bool = field(default=False, metadata=_help("Continue from the last checkpoint in --output."))
    merge: bool = field(
        default=False,
        metadata=_help(
            "Also write a merged 16-bit model to OUTPUT/merged (the base reloaded in 16-bit, never the 4-bit one)."
        ),
    )
    dry_run: bool = field(
        default=False,
        metadata=_help("Estimate peak GPU memory from the model config and exit without loading weights."),
    )
    gpu_memory: str | None = field(
        default=None,
        metadata=_help("With --dry-run: the GPU memory to check against, e.g. 24GB (default: the GPU found)."),
    )


COMMON_SECTIONS: dict[str, type] = {"data": DataArgs, "model": ModelArgs, "training": TrainArgs}
# Every section a config file may hold: the common ones and each kind's own (its module in trainers.kinds)
SECTIONS: dict[str, type] = {**COMMON_SECTIONS, **{kind.name: kind.options for kind in KINDS.values()}}


def kind_sections(kind: str) -> tuple[str, ...]:
    """The config sections of a training kind: the common ones and the kind's own."""
    if kind not in KINDS:
        raise ConfigError(f"unknown training kind: {kind}")
    return (*COMMON_SECTIONS, *KINDS[kind].sections)


@dataclass
class TrainConfig:
    """Everything a run needs, resolved from defaults, the config file and the flags."""

    kind: str
    data: DataArgs
    model: ModelArgs
    training: TrainArgs
    reward: RewardArgs = field(default_factory=RewardArgs)
    dpo: DPOArgs = field(default_factory=DPOArgs)
    sft: SFTArgs = field(default_factory=SFTArgs)
    kto: KTOArgs = field(default_factory=KTOArgs)
    rloo: RLOOArgs = field(default_factory=RLOOArgs)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **{s: dataclasses.asdict(getattr(self, s)) for s in kind_sections(self.kind)}}

    @property
    def learning_rate(self) -> float:
        if self.training.learning_rate is not None:
            return self.training.learning_rate
        return KINDS[self.kind].learning_rate

    def write(self, path: Path) -> None:
        """The resolved config, loadable again with --config."""
        import yaml

        body = {k: v for k, v in self.to_dict().items() if k != "kind"}
        path.write_text(
            f"# rlhf-tui train {self.kind}: resolved configuration\n" + yaml.safe_dump(body, sort_keys=False)
        )


def option_fields(kind: str) -> list[tuple[str, dataclasses.Field]]:
    """(section, field) for every option of a command, in help order."""
    return [(section, f) for section in kind_sections(kind) for f in fields(SECTIONS[section])]


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = path.read_text()
    try:
        if path.suffix.lower() == ".toml":
            import tomllib

            return tomllib.loads(text)
        if path.suffix.lower() in (".yaml", ".yml", ".json"):
            import yaml

            loaded = yaml.safe_load(text)
            return loaded or {}
    except Exception as exc:  # tomllib.TOMLDecodeError, yaml.YAMLError
        raise ConfigError(f"cannot parse {path}: {str(exc).splitlines()[0]}") from None
    raise ConfigError(f"config file must be .toml, .yaml or .yml: {path}")


def _flatten(raw: dict[str, Any], kind: str, source: str) -> dict[str, Any]:
    """Sectioned ([data], [model], ...) or flat keys; dashes or underscores; unknown keys are errors."""
    known = {f.name: section for section, f in option_fields(kind)}
    own = kind_sections(kind)
    other_kind_keys = {f.name for s, cls in SECTIONS.items() if s not in own for f in fields(cls)}
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name in SECTIONS and isinstance(value, dict):
            if name not in own:
                continue  # a shared file may hold both [reward] and [dpo]
            for sub_key, sub_value in value.items():
                sub_name = sub_key.replace("-", "_")
                if known.get(sub_name) != name:
                    raise ConfigError(f"unknown key '{sub_key}' in section [{key}] of {source}")
                flat[sub_name] = sub_value
        elif name == "kind":
            continue
        elif name in known:
            flat[name] = value
        elif name in other_kind_keys:
            continue
        else:
            raise ConfigError(f"unknown key '{key}' in {source}")
    return flat


def _coerce(f: dataclasses.Field, value: Any, source: str) -> Any:
    if value is None:
        return None
    default = f.default
    kind = type(default) if default is not None and default is not dataclasses.MISSING else None
    hint = str(f.type)
    try:
        if kind is bool or hint.startswith("bool"):
            if isinstance(value, str) and value.lower() == "auto" and "None" in hint:
                return None
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if kind is int or hint.startswith("int"):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if kind is float or hint.startswith("float"):
            return float(value)
        if isinstance(value, (list, tuple)) and f.name == "lora_target_modules":
            return ",".join(map(str, value))
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"bad value for {f.name.replace('_', '-')} in {source}: {value!r}") from None


def load_config(
    kind: str, config_file: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> TrainConfig:
    """Defaults, then the config file, then the flags that were given (None = not given)."""
    sections_of_kind = kind_sections(kind)
    values: dict[str, Any] = {}
    if config_file:
        values.update(_flatten(_read_file(Path(config_file)), kind, str(config_file)))
    values.update(_flatten({k: v for k, v in (overrides or {}).items() if v is not None}, kind, "flags"))
    sections: dict[str, Any] = {}
    for section in sections_of_kind:
        cls = SECTIONS[section]
        kwargs = {f.name: _coerce(f, values[f.name], "config") for f in fields(cls) if f.name in values}
        sections[section] = cls(**kwargs)
    cfg = TrainConfig(kind=kind, **sections)
    validate(cfg)
    return cfg


def validate(cfg: TrainConfig) -> None:
    d, m, t = cfg.data, cfg.model, cfg.training
    if not t.dry_run:
        if bool(d.data) == bool(d.dataset):
            raise ConfigError("give exactly one of --data FILE or --dataset NAME")
        if not t.output:
            raise ConfigError("--output DIR is required")
    if not m.model:
        raise ConfigError("--model is required (a local folder, a .gguf file or a hub id)")
    if not 0.0 <= d.eval_split < 1.0:
        raise ConfigError(f"--eval-split must be in [0, 1): {d.eval_split}")
    if not 0.0 <= d.holdout < 1.0:
        raise ConfigError(f"--holdout must be in [0, 1): {d.holdout}")
    if d.holdout_only and d.holdout <= 0:
        raise ConfigError("--holdout-only needs --holdout FRACTION (the share of prompts kept out of the other runs)")
    for name in ("max_length", "batch_size", "grad_accum", "lora_r", "logging_steps", "save_steps"):
        section = d if hasattr(d, name) else m if hasattr(m, name) else t
        if getattr(section, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
    if m.load_in_4bit and t.bf16 is False:
        # TRL casts QLoRA adapters to bf16 whatever the precision asked for; fp32 compute then fails mid-run.
        raise ConfigError("4-bit (QLoRA) training computes in bf16: drop --no-bf16, or add --no-4bit for plain LoRA")
    if not 0.0 <= m.lora_dropout < 1.0:
        raise ConfigError(f"--lora-dropout must be in [0, 1): {m.lora_dropout}")
    if m.attn_implementation not in ATTN_IMPLEMENTATIONS:
        raise ConfigError(f"--attn-implementation must be {', '.join(ATTN_IMPLEMENTATIONS)}: {m.attn_implementation}")
    if m.chat_template and not Path(m.chat_template).expanduser().is_file():
        raise ConfigError(f"--chat-template: file not found: {m.chat_template}")
    report_to(t)  # checks the names
    if t.keep_best not in KEEP_BEST:
        raise ConfigError(f"--keep-best must be {', '.join(KEEP_BEST)}: {t.keep_best}")
    if t.eval_steps < 0:
        raise ConfigError("--eval-steps must be 0 (at the end only) or more")
    if t.eval_steps > 0 and t.keep_best != "last" and t.save_steps % t.eval_steps:
        raise ConfigError(
            f"--keep-best {t.keep_best} needs --save-steps ({t.save_steps}) to be a multiple of --eval-steps "
            f"({t.eval_steps}), so that every evaluated step has a checkpoint; or --keep-best last"
        )
    if d.aggregate not in AGGREGATIONS:
        raise ConfigError(f"--aggregate must be {', '.join(AGGREGATIONS)}: {d.aggregate}")
    if t.gpu_memory is not None:
        parse_size(t.gpu_memory)
    validate_kind(cfg)


def validate_kind(cfg: TrainConfig) -> None:
    """The options of the run's kind that cannot work (SFT, KTO, RLOO check theirs), as one line each."""
    KINDS[cfg.kind].validate(cfg)


def report_to(t: TrainArgs) -> list[str]:
    """--report-to as TrainingArguments wants it: a list of integration names, [] for none."""
    names = [n.strip() for n in t.report_to.split(",") if n.strip()]
    unknown = [n for n in names if n not in REPORT_TO]
    if unknown or not names:
        raise ConfigError(f"--report-to must be {', '.join(REPORT_TO)} (comma-separated): {t.report_to}")
    return [n for n in names if n != "none"]


_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kmgt]i?b?)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """'24GB', '24G', '24GiB', '16000MB' → bytes (GB and GiB both mean 2**30: that is how GPUs are sold)."""
    match = _SIZE.match(str(text))
    if not match:
        raise ConfigError(f"cannot read a memory size from {text!r} (try 24GB)")
    number = float(match.group(1))
    unit = (match.group(2) or "g")[0].lower()
    return int(number * {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[unit])


def required(value: T | None, flag: str) -> T:
    """An option `validate` requires (--model, --output, ...), for code that may be called without it."""
    if value is None or value == "":
        raise ConfigError(f"{flag} is required")
    return value
