"""Entry point of the `rlhf-tui` command: errors become one line and a non-zero exit."""

from __future__ import annotations

import sys

from rlhf_tui.cli_app import app, err_console
from rlhf_tui.terminal_text import plain


def main(argv: list[str] | None = None) -> int:
    from rlhf_tui import commands  # noqa: F401  (registers every command on `app`)
    from store.errors import UserError

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
