"""Importing this package registers every command on `rlhf_tui.cli_app.app`."""

from . import core  # noqa: F401
from . import train  # noqa: F401
from . import annotate  # noqa: F401
from . import serve  # noqa: F401
from . import loop  # noqa: F401
