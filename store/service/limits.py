"""Per-user limits of the store service that are counted over time (a sliding window)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from store.errors import InvalidInputError


class SlidingWindowLimit:
    """At most `limit` events per user within any `seconds`; one more is refused in one line.

    Only the times of the last `limit` events are kept per user, so memory stays bounded."""

    def __init__(self, limit: int, seconds: float, what: str, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.seconds = seconds
        self.what = what  # "amendments", in the refusal
        self.clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, user: str) -> None:
        now = self.clock()
        with self._lock:
            events = self._events.setdefault(user, deque(maxlen=self.limit))
            while events and now - events[0] >= self.seconds:
                events.popleft()
            if len(events) >= self.limit:
                wait = max(1, int(self.seconds - (now - events[0])) + 1)
                raise InvalidInputError(
                    f"{user} made {self.limit} {self.what} within {self.seconds:g} seconds, the most allowed; "
                    f"try again in {wait} seconds (nothing was saved)"
                )
            events.append(now)
