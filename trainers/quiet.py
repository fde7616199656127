"""Quiet the ML libraries for our commands: our progress bars and one-line errors, not theirs.

Only messages known to be noise are silenced, each by its text and the module that raises it: a warning
from a user's own code, or one we have not met yet, still shows.
"""

from __future__ import annotations

import logging
import warnings

# (message regex, category, module regex) of warnings a run prints that the user can do nothing about.
KNOWN_NOISY_WARNINGS: tuple[tuple[str, type[Warning], str], ...] = (
    # transformers 5 renamed gradient_checkpointing* to activation_checkpointing*; TRL and peft still call the old names.
    (r"`\w*gradient_checkpointing\w*` is deprecated", FutureWarning, r"transformers\."),
)

# Loggers that report per-step dicts, loading details or optional kernels; errors still show.
NOISY_LOGGERS = ("accelerate", "bitsandbytes")


def quiet_libraries() -> None:
    """No tqdm bars, no per-step log dicts, no known-noisy warnings; errors still show."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    for message, category, module in KNOWN_NOISY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
