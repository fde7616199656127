"""Trainer callbacks: a rich progress bar on a terminal, plain log lines elsewhere, and Ctrl-C that saves
a checkpoint before stopping."""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from transformers import TrainerCallback

from .shares import PairShare

# What signal.signal returns and accepts: a function, SIG_DFL/SIG_IGN, or None (not set from Python).
SignalHandler = Callable[[int, FrameType | None], Any] | int | None


class RichProgressCallback(TrainerCallback):
    """Step, loss, throughput (pairs/s) and ETA, on the main process only."""

    def __init__(self, pairs_per_step: int, console: Console | None = None):
        self.pairs_per_step = pairs_per_step
        self.console = console or Console(stderr=True)
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.loss = float("nan")
        self.started = 0.0
        self.first_step = 0

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("step {task.completed}/{task.total}"),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[speed]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
            refresh_per_second=1,
        )
        self.progress.start()
        self.first_step = state.global_step
        self.task = self.progress.add_task(
            "training", total=state.max_steps, completed=state.global_step, loss="—", speed=""
        )
        self.started = time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is None or self.task is None:
            return
        elapsed = max(time.monotonic() - self.started, 1e-9)
        speed = (state.global_step - self.first_step) * self.pairs_per_step / elapsed
        self.progress.update(self.task, completed=state.global_step, speed=f"{speed:.2f} pairs/s")

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.progress is not None and self.task is not None and logs and "loss" in logs:
            self.progress.update(self.task, loss=f"{logs['loss']:.4f}")

    def on_train_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def format_eta(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _stderr_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class PlainLogCallback(TrainerCallback):
    """One plain line per logging step, for output that is not a terminal (a log file, nohup, a scheduler):

        step 20/100  loss 0.6412  batch accuracy 0.625  batch margin 0.183  3.41 pairs/s  ETA 0:01:34

    (TRL's means over the training batches since the last line), and one per evaluation, where a kind that
    scores pairs shows the held-out share with its interval and count:

        eval at step 20  loss 0.6801  accuracy 0.587 [0.52, 0.65], 218 pairs  margin 0.310

    On the main process only."""

    def __init__(
        self,
        pairs_per_step: int,
        accuracy_key: str,
        margin_key: str,
        write: Callable[[str], None] = _stderr_line,
        figures: tuple[tuple[str, str], ...] | None = None,
    ):
        self.pairs_per_step = pairs_per_step
        self.accuracy_key = accuracy_key
        self.margin_key = margin_key
        # (label, logged key); TRL logs the mean of per-batch values, and the label says so
        self.figures = figures or (("batch accuracy", accuracy_key), ("batch margin", margin_key))
        self.write = write
        self.started = 0.0
        self.first_step = 0
        self.trained = False  # training has ended: what follows is the final evaluation

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.monotonic()
        self.first_step = state.global_step
        self.trained = False

    def on_train_end(self, args, state, control, **kwargs):
        self.trained = True

    def _figures(self, logs: dict, prefix: str) -> list[str]:
        parts = []
        for label, key in self.figures:
            value = logs.get(prefix + key)
            if isinstance(value, (int, float)):
                parts.append(f"{label} {value:.3f}")
        return parts

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        if "loss" in logs:
            done = state.global_step - self.first_step
            elapsed = max(time.monotonic() - self.started, 1e-9)
            speed = done * self.pairs_per_step / elapsed
            eta = (state.max_steps - state.global_step) * elapsed / done if done else float("nan")
            parts = [f"step {state.global_step}/{state.max_steps}", f"loss {logs['loss']:.4f}"]
            parts += self._figures(logs, "")
            parts += [f"{speed:.2f} pairs/s", f"ETA {format_eta(eta)}"]
            self.write("  ".join(parts))
        elif "eval_loss" in logs:
            # after training: the final evaluation, of the adapter saved (the best checkpoint with --keep-best)
            where = "eval of the saved adapter" if self.trained else f"eval at step {state.global_step}"
            parts = [where, f"loss {logs['eval_loss']:.4f}"]
            held_out = held_out_figures(logs, "eval_")
            self.write("  ".join(parts + (held_out or self._figures(logs, "eval_"))))


def held_out_figures(logs: dict, prefix: str) -> list[str]:
    """'accuracy 0.587 [0.52, 0.65], 218 pairs', 'margin 0.310' from the logged share of held-out pairs."""
    accuracy, pairs = logs.get(prefix + "pair_accuracy"), logs.get(prefix + "pair_count")
    if not isinstance(accuracy, (int, float)) or not isinstance(pairs, (int, float)) or pairs < 1:
        return []
    n = int(pairs)
    share = PairShare(
        pairs=n, correct=round(accuracy * n), ties=int(logs.get(prefix + "pair_ties") or 0), mean_margin=None
    )
    return [f"accuracy {share.describe()}", f"margin {logs.get(prefix + 'pair_margin', float('nan')):.3f}"]


class InterruptCallback(TrainerCallback):
    """First Ctrl-C: finish the step, save a checkpoint, stop. A second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.interrupted = False
        self._previous: SignalHandler = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.interrupted:
            signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)
            raise KeyboardInterrupt
        self.interrupted = True

    def on_train_begin(self, args, state, control, **kwargs):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def on_step_end(self, args, state, control, **kwargs):
        if self.interrupted:
            control.should_save = True
            control.should_training_stop = True
        return control

    def on_train_end(self, args, state, control, **kwargs):
        if self._previous is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


class AllCutWarningCallback(TrainerCallback):
    """RLOO with masked truncated completions: warn (once) when every completion of a step was cut at
    --max-new-tokens, since then the whole step is masked out of the loss and nothing learns."""

    def __init__(self, write: Callable[[str], None] = _stderr_line) -> None:
        self.write = write
        self.warned = False

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.warned or not logs or not state.is_world_process_zero:
            return
        if logs.get("completions/clipped_ratio", 0.0) >= 1.0:
            self.warned = True
            self.write(
                f"warning: at step {state.global_step} every completion was cut at --max-new-tokens and is left out "
                "of the loss (--mask-truncated): such steps train nothing; raise --max-new-tokens, or "
                "--no-mask-truncated"
            )
