"""`rlhf-tui train reward|dpo`: QLoRA reward-model and DPO training (needs the `train` extra).

The options are generated from the dataclasses in `trainers.config`, so the flags, the config
file keys and the help text cannot drift apart. torch and TRL are imported only when a command runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from rlhf_tui.cli_app import app, console, err_console
from trainers.config import option_fields

train_app = typer.Typer(
    help="Train a reward model or a DPO policy with a LoRA adapter over a 4-bit base (QLoRA).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Flags whose name differs from the config key
_FLAG_NAMES = {"load_in_4bit": "--4bit/--no-4bit"}
_TYPES = {"bool": bool | None, "int": int | None, "float": float | None}

_DOCS = {
    "reward": """Train a reward model: a one-output head on the base, with a LoRA adapter.

    Pairs come from --data FILE (Parquet/JSONL: prompt, chosen, rejected) or --dataset NAME in the
    store. OUTPUT gets the adapter and reward head, the tokenizer, train_config.yaml, metrics.json
    and curves.png. Every option can also come from --config train.toml (or YAML); flags win.

    Example: rlhf-tui train reward --dataset demo --model ./SmolLM2-135M --output runs/rm
    """,
    "dpo": """Train a policy with DPO; the reference is the base with the adapter disabled.

    Pairs come from --data FILE (Parquet/JSONL: prompt, chosen, rejected) or --dataset NAME in the
    store. OUTPUT gets the adapter, the tokenizer, train_config.yaml, metrics.json and curves.png;
    --merge adds a merged 16-bit model. Flags override --config train.toml (or YAML).

    Example: rlhf-tui train dpo --dataset demo --model ./SmolLM2-135M --output runs/dpo --beta 0.1
    """,
}


def _option(field) -> tuple[Any, Any]:
    hint = str(field.type).replace("None", "").replace("|", "").strip()
    flag = "--" + field.name.replace("_", "-")
    help_text = field.metadata.get("help", "")
    if hint == "bool":
        decls = _FLAG_NAMES.get(field.name) or (flag if field.default is False else f"{flag}/--no-{flag[2:]}")
        if field.default is True:
            help_text += " [default: on]"
    else:
        decls = _FLAG_NAMES.get(field.name, flag)
        if field.default is not None:
            help_text += f" [default: {field.default}]"
    option = typer.Option(None, *decls.split(" "), help=help_text, show_default=False)
    return option, _TYPES.get(hint, str | None)


def _make_command(kind: str) -> Callable[..., None]:
    fields = option_fields(kind)

    def command(**kwargs: Any) -> None:
        config = kwargs.pop("config")
        # A flag-only option (default off) reads False when absent: that must not override the config file.
        flags_only = {f.name for _, f in fields if f.default is False and f.name not in _FLAG_NAMES}
        values = {k: v for k, v in kwargs.items() if not (k in flags_only and v is False)}
        _train(kind, config, values)

    params = [
        inspect.Parameter(
            "config",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Path | None,
            default=typer.Option(
                None, "--config", "-c", help="A TOML or YAML file of options; flags override it.", show_default=False
            ),
        )
    ]
    for _, f in fields:
        default, annotation = _option(f)
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation))
    # typer reads the options from the signature; typeshed does not declare __signature__ on functions
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__name__ = kind
    command.__doc__ = _DOCS[kind]
    return command


def _train(kind: str, config: Path | None, values: dict[str, Any]) -> None:
    from trainers.config import load_config

    cfg = load_config(kind, config, values)
    if cfg.training.dry_run:
        from trainers.memory import dry_run_report

        lines, _fits = dry_run_report(cfg)
        for line in lines:
            console.print(line, markup=False, highlight=False)
        return

    from trainers.run import run_training

    result = run_training(cfg)
    if not result.is_main_process:
        return
    if result.interrupted:
        err_console.print(
            f"interrupted at step {result.metrics['summary']['global_step']}: checkpoint saved to "
            f"{result.checkpoint}; continue with --resume",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(130)
    _print_summary(kind, result)


def _print_summary(kind: str, result) -> None:
    from rich.table import Table

    summary = result.metrics["summary"]
    table = Table(title=f"train {kind}: {result.output}", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    labels = [
        ("train_pairs", "train pairs"),
        ("eval_pairs", "eval pairs"),
        ("eval_prompts", "eval prompts"),
        ("global_step", "steps"),
        ("final_train_loss", "train loss (last log)"),
        ("eval_loss", "eval loss"),
        ("eval_accuracy", "eval pairwise accuracy" if kind == "reward" else "eval reward accuracy"),
        ("eval_mean_margin", "eval mean margin"),
        ("train_seconds", "training seconds"),
    ]
    for key, label in labels:
        value = summary.get(key)
        if value is not None:
            table.add_row(label, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    if result.merged:
        console.print(f"merged 16-bit model: {result.merged}", markup=False, highlight=False)


train_app.command("reward")(_make_command("reward"))
train_app.command("dpo")(_make_command("dpo"))
app.add_typer(train_app, name="train")
