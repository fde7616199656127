"""The team as the admin screen shows it: who holds which record now and since when,
and each annotator's totals, drafts pending and pace today. Ages are relative to when
the figures were read ("12 min"), never clock times, so a table reads the same in any
time zone. Names and record ids come from people and files: shown as plain text."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from rlhf_tui.app.safe_text import neutralise
from store.types import AnnotatorActivity, LeaseInfo

TEAM_COLUMNS = ("annotator", "submitted", "drafts", "today", "per hour today", "last answer", "holding now")
LEASE_COLUMNS = ("record", "annotator", "held for", "expires in")
# A pace over less than this is noise (three answers in ten seconds is not 1,000 an hour).
MIN_PACE_SECONDS = 60


def duration_text(seconds: float) -> str:
    """'under a minute', '12 min', '3 h 05 min', '2 d 4 h'."""
    minutes = int(max(0.0, seconds) // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def ago_text(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "–"
    seconds = (now - moment).total_seconds()
    return "just now" if seconds < 60 else f"{duration_text(seconds)} ago"


def pace_text(activity: AnnotatorActivity) -> str:
    first, last = activity.first_today, activity.last_today
    if first is None or last is None or (last - first).total_seconds() < MIN_PACE_SECONDS:
        return "–"
    rate = activity.per_hour_today
    return "–" if rate is None else f"{rate:.1f}"


def team_rows(team: list[AnnotatorActivity], now: datetime) -> list[tuple[Text, ...]]:
    return [
        (
            Text(neutralise(a.annotator, one_line=True)),
            Text(f"{a.submitted:,}", justify="right"),
            Text(f"{a.drafts:,}", justify="right", style="yellow" if a.drafts else ""),
            Text(f"{a.submitted_today:,}", justify="right"),
            Text(pace_text(a), justify="right"),
            Text(ago_text(a.last_today, now)),
            Text(f"{a.leases:,} record{'s' if a.leases != 1 else ''}", justify="right"),
        )
        for a in team
    ]


def lease_rows(leases: list[LeaseInfo], now: datetime) -> list[tuple[Text, ...]]:
    return [
        (
            Text(neutralise(lease.external_id, one_line=True)),
            Text(neutralise(lease.annotator, one_line=True)),
            Text(duration_text((now - lease.since).total_seconds())),
            Text(duration_text((lease.expires - now).total_seconds())),
        )
        for lease in leases
    ]
