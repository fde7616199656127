"""Importing this package registers every command on `rlhf_tui.cli_app.app`."""

from rlhf_tui.commands import (
    annotate,  # noqa: F401
    core,  # noqa: F401
    loop,  # noqa: F401
    review,  # noqa: F401
    serve,  # noqa: F401
    train,  # noqa: F401
)
