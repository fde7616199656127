"""Entry point of the `rlhf-tui` command: errors become one line and a non-zero exit."""

from __future__ import annotations

import sys

from rlhf_tui.cli_app import app, err_console, load_commands
from rlhf_tui.terminal_text import plain


def main(argv: list[str] | None = None) -> int:
    from store.errors import UserError

    load_commands(sys.argv[1:] if argv is None else argv)  # only the command that runs, for a prompt start
    try:
        app(args=argv, prog_name="rlhf-tui", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except UserError as exc:
        # The message quotes names and column names from imported files: print it visibly, never as markup.
        err_console.print(plain(f"error: {exc}", one_line=True), soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
