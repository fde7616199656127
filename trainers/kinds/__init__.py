"""The training kinds, one module each: its config section, how a row is encoded, how its TRL trainer is
built, which logged figures are its accuracy and margin, and its `--help` — as TRL pairs each trainer
with its config. `base` holds what they share (the policy kinds' defaults among it).

Adding a trainer is one module here with a `KIND`, listed below. Light at import: the TRL classes are
imported inside the builders, so `config`, `metrics` and `--help` read the table without torch.
"""

from __future__ import annotations

from ..errors import ConfigError
from . import dpo, kto, reward, rloo, sft
from .base import BuildRequest, EncodeContext, TrainerKind

# The order of `rlhf-tui train --help`
KINDS: dict[str, TrainerKind] = {module.KIND.name: module.KIND for module in (reward, dpo, sft, kto, rloo)}


def kind_of(name: str) -> TrainerKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ConfigError(f"unknown training kind: {name} (known: {', '.join(KINDS)})") from None


__all__ = ["KINDS", "BuildRequest", "EncodeContext", "TrainerKind", "kind_of"]
