"""`python tests/run_as.py USER[:GROUP] -- rlhf-tui ARGS...` (or `-- python CODE`): what `sudo -u USER`
and `runuser -u USER -g GROUP --` do for a test run as root, when the interpreter and the checkout may
be private to root.

Everything the command could import later is imported first, as root; then the process takes on
USER's uid, primary group (or GROUP) and supplementary groups, HOME and umask 022 (as a login
would), and runs the command. Not collected as a test."""

from __future__ import annotations

import importlib
import os
import pkgutil
import pwd
import sys

# The standard library modules the commands import inside their functions.
LAZY_STDLIB = [
    "base64",
    "codecs",
    "csv",
    "dataclasses",
    "difflib",
    "getpass",
    "grp",
    "heapq",
    "io",
    "json",
    "mmap",
    "pwd",
    "re",
    "selectors",
    "shutil",
    "signal",
    "socket",
    "stat",
    "struct",
    "tempfile",
    "threading",
    "time",
    "tomllib",
    "unicodedata",
    "uuid",
    "encodings.idna",
    "encodings.ascii",
    "encodings.latin_1",
]


def preload() -> None:
    for name in LAZY_STDLIB:
        importlib.import_module(name)
    import duckdb  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import rlhf_tui
    import store

    for package in (store, rlhf_tui):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(info.name)
    # The CLI's libraries import parts of themselves when first used (typer its vendored click's
    # decorators, rich its renderables): in a checkout only root may enter (`mktemp -d`, mode 0700) with
    # its venv inside, USER could not read them later. Their `__main__` is a program, not a part.
    import rich
    import typer

    for package in (typer, rich):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.rpartition(".")[2] == "__main__":
                continue
            try:
                importlib.import_module(info.name)
            except (ImportError, AssertionError):  # an extra not installed, or Windows' console (asserts win32)
                pass


def become(spec: str) -> None:
    name, _, group = spec.partition(":")
    user = pwd.getpwnam(name)
    gid = user.pw_gid
    if group:
        import grp

        gid = grp.getgrnam(group).gr_gid
    os.initgroups(name, user.pw_gid)
    os.setgid(gid)
    os.setuid(user.pw_uid)
    os.environ.update(HOME=user.pw_dir, USER=name, LOGNAME=name)
    os.umask(0o022)


def main(argv: list[str]) -> int:
    spec, separator, command = argv[0], argv[1], argv[2:]
    if separator != "--" or not command or command[0] not in ("rlhf-tui", "python"):
        raise SystemExit("usage: run_as.py USER[:GROUP] -- rlhf-tui ARGS... | python CODE")
    preload()
    become(spec)
    if command[0] == "python":
        exec(compile(command[1], "<run_as>", "exec"), {"__name__": "__main__"})
        return 0
    from rlhf_tui.cli import main as rlhf_tui

    return rlhf_tui(command[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
