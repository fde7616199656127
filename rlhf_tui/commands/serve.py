"""`rlhf-tui serve`: share one store among the annotators of a machine."""

from __future__ import annotations

import signal
from pathlib import Path

import typer
from rich.text import Text

from ..cli_app import StoreOption, app, err_console


@app.command("serve")
def serve_command(
    store: Path | None = StoreOption,
    socket_path: Path | None = typer.Option(
        None, "--socket", help="Unix socket to listen on (default: next to the store, STORE.sock)."
    ),
    group: str | None = typer.Option(
        None, "--group", help="Group whose members may connect: socket and store become group read/write, others none."
    ),
    admin: list[str] | None = typer.Option(
        None,
        "--admin",
        help="User allowed to import, export and change datasets (repeatable; the service's own user always is).",
    ),
) -> None:
    """Own the store file and serve it to every annotator on this machine over a Unix socket.

    annotate, stats, export and import use the service automatically while it runs. Each
    client's identity comes from the operating system, not from what it claims."""
    from store import resolve_store_path
    from store.service import default_socket_path, serve

    store_path = resolve_store_path(store)
    sock = socket_path or default_socket_path(store_path)

    def announce(server, path):
        def stop(signum, frame):
            # shutdown() waits for serve_forever, so run it off the signal handler's thread.
            import threading

            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        admins = ", ".join(sorted(server.service.admins))
        err_console.print(Text(f"serving {store_path} on {path} (admins: {admins}); Ctrl-C stops"))

    serve(store_path, sock, group=group, admins=set(admin or []), on_ready=announce)
    err_console.print(Text("store service stopped"))
