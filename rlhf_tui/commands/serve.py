"""`rlhf-tui serve`: share one store among the annotators of a machine."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import typer
from rich.text import Text

from rlhf_tui.cli_app import StoreOption, app, console, err_console


def _plain(text: str) -> Text:
    from rlhf_tui.terminal_text import plain

    return plain(text)


@app.command("serve")
def serve_command(
    store: Path | None = StoreOption,
    socket_path: Path | None = typer.Option(
        None,
        "--socket",
        help="Unix socket to listen on (default: next to the store, STORE.sock). With --group it must be in a "
        "folder of its own, e.g. /run/rlhf-tui/team.sock: the store's folder stays private.",
    ),
    group: str | None = typer.Option(
        None, "--group", help="Group whose members may connect: the socket becomes group read/write, nothing else."
    ),
    admin: list[str] | None = typer.Option(
        None,
        "--admin",
        metavar="USER",
        help="User allowed to import, export and change datasets (repeatable; the service's own user always is).",
    ),
    idle_timeout: float = typer.Option(
        600.0, "--idle-timeout", help="Seconds after which an idle connection is closed (clients reconnect)."
    ),
    check: bool = typer.Option(
        False, "--check", help="Print the store, socket, modes, owners, group members and admins, and every problem."
    ),
) -> None:
    """Own the store file and serve it to every annotator on this machine over a Unix socket.

    annotate, stats, export and import use the service automatically while it runs (give
    them --store SOCKET, or the store's path as its owner). Each client's identity comes from
    the operating system, not from what it claims. The store file, its WAL and temporary
    files stay private to the service's user; only the socket is shared."""
    from store import resolve_store_path
    from store.service.checks import check_report
    from store.service.server import serve

    store_path = resolve_store_path(store)
    if check:
        facts, problems = check_report(store_path, socket_path, group)
        for line in facts:
            console.print(_plain(line), soft_wrap=True)
        for line in problems:
            console.print(_plain(f"problem: {line}"), soft_wrap=True)
        if not problems:
            console.print(Text("no problems found"))
        raise typer.Exit(1 if problems else 0)

    def announce(loop, path) -> None:
        def stop(signum, frame) -> None:
            threading.Thread(target=loop.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        admins = ", ".join(sorted(loop.service.admins))
        err_console.print(_plain(f"serving {store_path} on {path} (admins: {admins}); Ctrl-C stops"), soft_wrap=True)

    serve(store_path, socket_path, group=group, admins=set(admin or []), on_ready=announce, idle_seconds=idle_timeout)
    err_console.print(Text("store service stopped"))
