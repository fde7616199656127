"""Command-line mistakes (an unknown option, a value that is not a choice) as one line a person
would write: what was wrong, what would be right, and where to read more."""

from __future__ import annotations

import difflib
import re
from types import ModuleType
from typing import Any

_NOT_ONE_OF = re.compile(r"^(?:Value error, )?(?P<value>'.*') is not one of (?P<choices>.*?)\.?$", re.DOTALL)


def click_exceptions() -> ModuleType:
    """The exceptions module of the click that Typer runs on (Typer may carry its own copy)."""
    try:
        from typer._click import exceptions
    except ImportError:  # a Typer that uses click itself
        from click import exceptions  # type: ignore[no-redef]
    return exceptions


def _names(param: Any) -> str:
    """How a person writes the option: "-k/--annotators-per-record", or an argument's name."""
    opts = [*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ())]
    if getattr(param, "param_type_name", "") == "argument" or not opts:
        return str(getattr(param, "name", None) or "the value").upper()
    return "/".join(sorted(opts, key=len))


def _choices(text: str) -> str:
    names = [c.strip().strip("'\"") for c in text.split(",")]
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]


def _closest_option(ctx: Any, wrong: str) -> Any:
    """The command's option a person most likely meant by `wrong` ("--k" means "-k")."""
    if ctx is None:
        return None
    params = [p for p in ctx.command.get_params(ctx) if getattr(p, "opts", None)]
    bare = wrong.lstrip("-")
    by_bare: dict[str, Any] = {}
    for param in params:
        for opt in [*param.opts, *param.secondary_opts]:
            by_bare.setdefault(opt.lstrip("-"), param)
    if bare in by_bare:
        return by_bare[bare]
    close = difflib.get_close_matches(bare, list(by_bare), n=1, cutoff=0.6)
    return by_bare[close[0]] if close else None


def describe_usage_error(exc: Any) -> str:
    """One line for a usage error from click: unknown option, bad value, missing option or argument."""
    errors = click_exceptions()
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "rlhf-tui"
    help_hint = f"`{command} -h` lists its options"
    if isinstance(exc, errors.NoSuchOption):
        meant = _closest_option(ctx, exc.option_name)
        suggestion = f"; did you mean {_names(meant)}?" if meant is not None else ""
        return f"{command} has no option {exc.option_name}{suggestion} ({help_hint})"
    if isinstance(exc, errors.MissingParameter) and getattr(exc, "param", None) is not None:
        return f"{command} needs {_names(exc.param)} ({help_hint})"
    if isinstance(exc, errors.BadParameter) and getattr(exc, "param", None) is not None:
        name = _names(exc.param)
        choice = _NOT_ONE_OF.match(exc.message)
        if choice:
            return f"{command} {name} cannot be {choice['value']}; choose {_choices(choice['choices'])}"
        message = re.sub(r"^Value error, ", "", exc.message).rstrip(".")
        return f"{command} {name}: {message[:1].lower() + message[1:]}"
    message = exc.format_message().rstrip(".")
    return f"{command}: {message[:1].lower() + message[1:]} ({help_hint})"
