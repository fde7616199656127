"""The store interface over the service's socket: same methods as DuckDBStore.

A lost service is waited for (the annotator's screen stays as it is) and the request
resent; submissions carry a client id, so a resend is never counted twice."""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from . import wire
from .api import PreferenceStore
from .errors import StoreError
from .types import AnnotationInput


class ServiceUnavailableError(StoreError):
    """The service could not be reached within the reconnect timeout."""


_METHODS = {name for name, value in vars(PreferenceStore).items() if callable(value) and not name.startswith("_")} - {
    "close"
}
_PATH_ARGUMENTS = {"import_file": ("path", 0), "export": ("out", 2)}


class ServiceClient:
    def __init__(
        self,
        socket_path: str | os.PathLike,
        reconnect_timeout: float | None = 60.0,
        connect_timeout: float = 2.0,
    ):
        """`reconnect_timeout`: how long a call waits for a lost service to come back
        before it fails (None: for as long as it takes, as the annotation app wants)."""
        self.socket_path = Path(socket_path)
        self.reconnect_timeout = reconnect_timeout
        # Called with False when the service is lost and True when it is back (from the calling thread).
        self.on_connection_change: Callable[[bool], None] | None = None
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._reader = None
        self._next_id = 0
        self._connect(deadline=time.monotonic() + connect_timeout)

    # -- connection ----------------------------------------------------------
    def _connect(self, deadline: float) -> None:
        delay = 0.05
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(self.socket_path))
                self._sock, self._reader = sock, sock.makefile("rb")
                return
            except OSError as exc:
                sock.close()
                if time.monotonic() >= deadline:
                    raise ServiceUnavailableError(
                        f"cannot reach the store service at {self.socket_path} ({exc.strerror or exc})"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _drop(self) -> None:
        for closable in (self._reader, self._sock):
            try:
                if closable is not None:
                    closable.close()
            except OSError:
                pass
        self._sock = self._reader = None

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- calls ---------------------------------------------------------------
    def _call(self, method: str, args: tuple, kwargs: dict):
        with self._lock:
            self._next_id += 1
            payload = wire.encode({"id": self._next_id, "method": method, "args": list(args), "kwargs": kwargs})
            deadline = time.monotonic() + (
                self.reconnect_timeout if self.reconnect_timeout is not None else float("inf")
            )
            lost = False
            while True:
                try:
                    if self._sock is None:
                        self._connect(deadline)
                        if lost and self.on_connection_change:
                            self.on_connection_change(True)
                    self._sock.sendall(payload)
                    line = self._reader.readline()
                    if not line:
                        raise ConnectionResetError("the store service closed the connection")
                    reply = wire.decode(line)
                    break
                except (OSError, ConnectionError):
                    self._drop()
                    if not lost and self.on_connection_change:
                        self.on_connection_change(False)
                    lost = True
                    if time.monotonic() >= deadline:
                        raise ServiceUnavailableError(
                            f"lost the store service at {self.socket_path} and it did not come back within "
                            f"{self.reconnect_timeout or 0:.0f} s"
                        ) from None
                    time.sleep(0.1)
        if "error" in reply:
            raise wire.error_from_wire(reply["error"])
        return reply.get("result")

    def whoami(self) -> dict:
        return self._call("whoami", (), {})

    def save_annotation(self, answer: AnnotationInput):
        if answer.client_id is None:  # so that a resend after a lost connection is recognised
            answer = dataclasses.replace(answer, client_id=str(uuid.uuid4()))
        return self._call("save_annotation", (answer,), {})

    def __getattr__(self, name: str):
        if name not in _METHODS:
            raise AttributeError(name)

        def remote(*args, **kwargs):
            if name in _PATH_ARGUMENTS:  # the service resolves paths from its own directory
                key, position = _PATH_ARGUMENTS[name]
                if key in kwargs:
                    kwargs[key] = str(Path(kwargs[key]).absolute())
                elif len(args) > position:
                    args = (*args[:position], str(Path(args[position]).absolute()), *args[position + 1 :])
            return self._call(name, args, kwargs)

        remote.__name__ = name
        return remote
