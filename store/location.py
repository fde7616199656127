"""Where the store file lives: --store PATH, else $RLHF_TUI_STORE, else ./rlhf.duckdb."""

from __future__ import annotations

import os
from pathlib import Path

STORE_ENV_VAR = "RLHF_TUI_STORE"
DEFAULT_STORE_FILE = "rlhf.duckdb"


def resolve_store_path(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(STORE_ENV_VAR)
    if from_env:
        return Path(from_env)
    return Path(DEFAULT_STORE_FILE)
