"""The store worker: one thread runs every store call, in the order the UI asked, and
posts each result as a message. One ordered queue, because an earlier draft save must
never land after the submission that replaces it."""

from __future__ import annotations

import asyncio
import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.message import Message
from textual.message_pump import MessagePump

from rlhf_tui.app.messages import StoreFailed
from store import PermissionDeniedError, StoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreJob:
    call: Callable[[], Any]
    reply: Callable[[Any], Message | None] | None
    target: MessagePump
    what: str  # what the job does, e.g. "saving the answer": starts the error line
    tag: str = ""  # kind of job, so the asker can undo its "in flight" mark on failure


_STOP = object()


class StoreJobQueue:
    def __init__(self) -> None:
        self._jobs: queue.Queue = queue.Queue()

    def submit(
        self,
        target: MessagePump,
        what: str,
        call: Callable[[], Any],
        reply: Callable[[Any], Message | None] | None = None,
        tag: str = "",
    ) -> None:
        self._jobs.put(StoreJob(call, reply, target, what, tag))

    @property
    def pending(self) -> int:
        return self._jobs.unfinished_tasks

    def stop(self) -> None:
        self._jobs.put(_STOP)

    def serve(self, is_cancelled: Callable[[], bool]) -> None:
        """Run jobs until stopped (in the worker thread)."""
        while not is_cancelled():
            try:
                job = self._jobs.get(timeout=0.25)
            except queue.Empty:
                continue
            try:
                if job is _STOP:
                    return
                self._run(job)
            finally:
                self._jobs.task_done()

    @staticmethod
    def _run(job: StoreJob) -> None:
        try:
            result = job.call()
        except StoreError as exc:
            refused = isinstance(exc, PermissionDeniedError)
            job.target.post_message(StoreFailed(f"error while {job.what}: {exc}", job.tag, refused))
            return
        except Exception as exc:  # a store bug must not kill the app: say so in one line, log the rest
            log.exception("store job failed: %s", job.what)
            job.target.post_message(StoreFailed(f"error while {job.what}: {type(exc).__name__}: {exc}", job.tag))
            return
        if job.reply is not None:
            message = job.reply(result)
            if message is not None:
                job.target.post_message(message)

    async def wait_until_done(self) -> None:
        """Wait until every job submitted so far has run (tests and the benchmark use it)."""
        await asyncio.to_thread(self._jobs.join)
