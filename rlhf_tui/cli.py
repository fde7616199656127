"""Entry point of the `rlhf-tui` command: errors become one line and a non-zero exit."""

from __future__ import annotations

import sys

import typer

from rlhf_tui.cli_app import app, err_console, load_commands
from rlhf_tui.terminal_text import plain

# The packages of the `train` extra: a command that needs one says how to install it.
TRAIN_EXTRA_MODULES = frozenset(
    {"torch", "transformers", "trl", "peft", "accelerate", "bitsandbytes", "datasets", "safetensors", "gguf"}
)


def _print_error(text: str) -> None:
    # The message quotes names and column names from imported files: print it visibly, never as markup.
    err_console.print(plain(f"error: {text}", one_line=True), soft_wrap=True)


def main(argv: list[str] | None = None) -> int:
    from rlhf_tui.usage_errors import click_exceptions, describe_usage_error
    from store.errors import UserError

    load_commands(sys.argv[1:] if argv is None else argv)  # only the command that runs, for a prompt start
    errors = click_exceptions()
    try:
        status = app(args=argv, prog_name="rlhf-tui", standalone_mode=False)
    except errors.NoArgsIsHelpError as exc:
        exc.show()  # the help, as `-h` prints it
        return exc.exit_code
    except errors.UsageError as exc:
        _print_error(describe_usage_error(exc))
        return 2
    except typer.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):
            err_console.print("interrupted", markup=False)
            return 130
        err_console.print("aborted", markup=False)
        return 1
    except UserError as exc:
        _print_error(str(exc))
        return 1
    except ModuleNotFoundError as exc:
        top = (exc.name or "").partition(".")[0]
        if top not in TRAIN_EXTRA_MODULES:
            raise
        _print_error(
            f"this command needs the `train` extra ({top} is not installed): pip install 'rlhf-tui[train]' "
            "(in a checkout, `make test` makes a venv with it)"
        )
        return 1
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        return 130
    return status if isinstance(status, int) else 0


if __name__ == "__main__":
    sys.exit(main())
