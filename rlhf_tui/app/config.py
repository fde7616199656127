"""Settings of the annotation app: a dataclass with help text per field, read from a
TOML file (`$RLHF_TUI_CONFIG`, else `~/.config/rlhf-tui/config.toml`) and overridable
per field by `RLHF_TUI_<FIELD>` environment variables.

Example config.toml:

    prefetch = 8

    [keymap]
    "rank.tie" = "equals_sign"
    "annotate.skip" = "s,space"
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

from store.errors import UserError

CONFIG_ENV_VAR = "RLHF_TUI_CONFIG"
ENV_PREFIX = "RLHF_TUI_"
DEFAULT_CONFIG_PATH = Path("~/.config/rlhf-tui/config.toml")


class ConfigError(UserError):
    """The config file cannot be used; the message is one line for the user."""


def _setting(default, help_text: str):
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True)
class AppConfig:
    keymap: dict[str, str] = field(
        default_factory=dict,
        metadata={"help": 'Binding id → keys (comma-separated Textual key names), e.g. "rank.tie" = "equals_sign".'},
    )
    prefetch: int = _setting(5, "How many records to fetch ahead, so moving on never waits for the store.")
    draft_delay_seconds: float = _setting(1.0, "Seconds a ranking stays unchanged before it is saved as a draft.")
    preview_chars: int = _setting(20_000, "Characters of a long prompt or answer shown before the expand key.")
    min_card_width: int = _setting(38, "Narrowest a candidate card may be before the cards are stacked.")
    prompt_height_percent: int = _setting(35, "Most of the screen height the prompt may take (it scrolls beyond).")


def config_help() -> dict[str, str]:
    """Setting name → help text, for the help screen and documentation."""
    return {f.name: f.metadata["help"] for f in fields(AppConfig)}


def config_path() -> Path:
    """Where the config file is read from."""
    return Path(os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_PATH).expanduser()


def _coerce(name: str, kind: type, value: object, origin: str) -> int | float:
    try:
        if kind is float and isinstance(value, (int, float, str)) and not isinstance(value, bool):
            return float(value)
        if kind is int and isinstance(value, (int, str)) and not isinstance(value, bool):
            return int(value)
    except ValueError:
        pass
    raise ConfigError(f"{origin}: {name} must be a{'n integer' if kind is int else ' number'}, not {value!r}")


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> AppConfig:
    """The config from the file (missing file: defaults) with environment overrides."""
    from rlhf_tui.app.keymap import binding_ids
    from rlhf_tui.app.review.keys import review_binding_ids

    path = path or config_path()
    env: Mapping[str, str] = os.environ if environ is None else environ
    values: dict[str, object] = {}
    if path.is_file():
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from None
    known = {f.name: f for f in fields(AppConfig)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r} (known: {', '.join(known)})")
    kinds = get_type_hints(AppConfig)
    settings: dict[str, Any] = {}  # _coerce makes each value of its field's type
    for name in known:
        if name == "keymap":
            continue
        kind = kinds[name]
        if name in values:
            settings[name] = _coerce(name, kind, values[name], str(path))
        env_name = ENV_PREFIX + name.upper()
        if env_name in env:
            settings[name] = _coerce(name, kind, env[env_name], env_name)
    keymap = values.get("keymap", {})
    if not isinstance(keymap, dict) or not all(isinstance(v, str) for v in keymap.values()):
        raise ConfigError(f"{path}: [keymap] must map binding ids to key strings")
    bad_ids = sorted(set(keymap) - binding_ids() - review_binding_ids())
    if bad_ids:
        raise ConfigError(f"{path}: unknown binding id {bad_ids[0]!r} in [keymap] (the help screen lists the ids)")
    return AppConfig(keymap=dict(keymap), **settings)
