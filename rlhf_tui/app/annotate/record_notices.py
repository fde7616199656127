"""Notices about the record on screen ("Rank every candidate first…"): taken down when
another record shows, so that a warning about the last record never sits over the next
one (and over the status line). Notices from the app (a failed save, the service) stay."""

from __future__ import annotations

from textual.app import App
from textual.notifications import Notification, Notify, SeverityLevel


class RecordNotices:
    def __init__(self) -> None:
        self._shown: list[tuple[Notification, int | None]] = []  # each notice, with the record it was about

    def show(
        self,
        app: App,
        record_id: int | None,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        notification = Notification(
            message, title, severity, app.NOTIFICATION_TIMEOUT if timeout is None else timeout, markup=markup
        )
        self._shown.append((notification, record_id))
        app.post_message(Notify(notification))

    def record_shown(self, app: App, record_id: int | None) -> None:
        """Take down the notices about any other record than `record_id`."""
        stale = [n for n, about in self._shown if about != record_id]
        if not stale:
            return
        self._shown = [(n, about) for n, about in self._shown if about == record_id]
        live = app._notifications  # Textual offers no public way to take down one toast
        for notification in stale:
            if notification in live:
                app._unnotify(notification, refresh=False)
        app._refresh_notifications()
