"""`rlhf-tui train sft|reward|dpo|kto|rloo`: QLoRA training of each kind (needs the `train` extra).

The options are generated from the dataclasses in `trainers.config` and `trainers.kinds`, so the
flags, the config file keys and the help text cannot drift apart. torch and TRL are imported only when a command runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from rlhf_tui.cli_app import app, console, err_console
from rlhf_tui.terminal_text import plain
from trainers.config import option_fields
from trainers.kinds import KINDS

train_app = typer.Typer(
    help="Train with a LoRA adapter over a 4-bit base (QLoRA): sft, reward, dpo, kto, rloo.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Flags whose name differs from the config key
_FLAG_NAMES = {"load_in_4bit": "--4bit/--no-4bit"}
_TYPES = {"bool": bool | None, "int": int | None, "float": float | None}


def _option(field) -> tuple[Any, Any]:
    hint = str(field.type).replace("None", "").replace("|", "").strip()
    flag = "--" + field.name.replace("_", "-")
    help_text = field.metadata.get("help", "")
    if hint == "bool":
        decls = _FLAG_NAMES.get(field.name) or (flag if field.default is False else f"{flag}/--no-{flag[2:]}")
        if field.default is True:
            help_text += " [default: on]"
        elif field.default is None:
            help_text += " [default: auto]"
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
    command.__doc__ = KINDS[kind].help  # each kind's module in trainers.kinds
    return command


def _train(kind: str, config: Path | None, values: dict[str, Any]) -> None:
    from trainers.config import load_config

    cfg = load_config(kind, config, values)
    if cfg.training.dry_run:
        from trainers.memory import dry_run_report

        lines, _fits = dry_run_report(cfg)
        for line in lines:
            console.print(plain(line), highlight=False, soft_wrap=True)
        return

    from trainers.run import run_training

    result = run_training(cfg, say=_say)
    if not result.is_main_process:
        return
    if result.interrupted:
        err_console.print(
            plain(
                f"interrupted at step {result.metrics['summary']['global_step']}: checkpoint saved to "
                f"{result.checkpoint}; continue with --resume"
            ),
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(130)
    _print_summary(kind, result)


def _say(line: str) -> None:
    """A run's note (precision chosen, pairs dropped, adapter continued): paths and names shown literally."""
    err_console.print(plain(line), highlight=False, soft_wrap=True)


def summary_rows(kind: str, summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) of the summary table: the pairs actually trained on, what was dropped, the metrics.

    Held-out accuracy is a share of pairs with its 95% interval and count ('0.587 [0.52, 0.65], 218 pairs');
    a figure that is TRL's mean of per-batch means says so in its label."""
    from trainers.kinds import kind_of
    from trainers.metrics import trl_mean_key
    from trainers.shares import PairShare

    entry = kind_of(kind)
    rows: list[tuple[str, str]] = []

    def add(label: str, value: Any) -> None:
        if value is not None:
            rows.append((label, f"{value:.4f}" if isinstance(value, float) else str(value)))

    def add_share(label: str, held_out: dict[str, Any] | None) -> None:
        if held_out and held_out.get("pairs"):
            share = PairShare(held_out["pairs"], held_out["correct"], held_out["ties"], held_out["mean_margin"])
            rows.append((label, share.describe()))

    rows_name = {"sft": "examples", "kto": "answers", "rloo": "prompts"}.get(kind, "pairs")
    add(f"train {rows_name} used", summary.get("train_pairs"))
    if summary.get("train_pairs_dropped"):
        add("train pairs dropped (too long: raise --max-length)", summary["train_pairs_dropped"])
    if entry.evaluates:
        add(f"eval {rows_name} used", summary.get("eval_pairs"))
    if summary.get("eval_pairs_dropped"):
        add("eval pairs dropped (too long: raise --max-length)", summary["eval_pairs_dropped"])
    if summary.get("prompts_cut"):
        add("prompts cut from the left to fit", summary["prompts_cut"])
    if summary.get("answers_cut"):
        add("answers cut at the end (too long: raise --max-length)", summary["answers_cut"])
    add("eval prompts", summary.get("eval_prompts"))
    add("steps", summary.get("global_step"))
    add("train loss (last log)", summary.get("final_train_loss"))
    if kind == "rloo":
        add("mean reward (last log)", summary.get(trl_mean_key("final_train_", entry.accuracy_key)))
    add("eval loss", summary.get("eval_loss"))
    if entry.pair_scores:
        add_share(f"eval {entry.accuracy_label}", summary.get("eval_held_out"))
        for bucket in ("short", "medium", "long"):
            tokens = summary.get(f"eval_answer_tokens_{bucket}")
            if tokens:
                add_share(
                    f"  {bucket} answers ({tokens[0]}-{tokens[1]} tokens)", summary.get(f"eval_held_out_{bucket}")
                )
        add(f"eval {entry.margin_label} (over pairs)", summary.get("eval_mean_margin"))
    else:
        add(
            f"eval {entry.accuracy_label} (TRL per-batch mean)",
            summary.get(trl_mean_key("eval_", entry.accuracy_key)),
        )
        add(f"eval {entry.margin_label} (TRL per-batch mean)", summary.get(trl_mean_key("eval_", entry.margin_key)))
    if summary.get("best_checkpoint"):
        add("best checkpoint (saved as the adapter)", Path(summary["best_checkpoint"]).name)
    add("training seconds", summary.get("train_seconds"))
    return rows


def _print_summary(kind: str, result) -> None:
    from rich.table import Table

    # The output folder on a line of its own: a table title would wrap it at the table's width, mid-name.
    console.print(plain(f"train {kind}: {result.output}"), highlight=False, soft_wrap=True)
    table = Table(show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, value in summary_rows(kind, result.metrics["summary"]):
        table.add_row(plain(label), plain(value))
    console.print(table)
    if result.merged:
        console.print(plain(f"merged 16-bit model: {result.merged}"), highlight=False, soft_wrap=True)


for _kind in KINDS:
    train_app.command(_kind)(_make_command(_kind))
app.add_typer(train_app, name="train")
