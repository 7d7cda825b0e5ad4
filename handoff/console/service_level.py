"""The supervisor board's service level today, per skill, from the contact records.

Today is the calendar day in the agents' time zone (``HANDOFF_TIMEZONE``); the figures are the
report's (``operations.reports.SkillResponses``), read at most every ``SECONDS`` per console
process: the board refreshes every few seconds, the database is not asked that often.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from operations.reports import skill_responses

SECONDS = 30.0


def start_of_today(zone: str, now: datetime | None = None) -> datetime:
    """Midnight of today in ``zone``, as naive UTC."""
    local = (now or datetime.now(timezone.utc)).astimezone(ZoneInfo(zone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(timezone.utc).replace(tzinfo=None)


def service_today(app: Any) -> dict[str, dict[str, Any]]:
    """Per skill: ``service_level`` (0-1, None when nobody queued), ``responses``,
    ``first_breaches``, ``unanswered``, ``next_breaches`` since midnight (agents' zone)."""
    cache = app.ctx.__dict__.setdefault("service_today", {})
    if cache and time.monotonic() - cache["at"] < SECONDS:
        return cache["figures"]
    settings = app.ctx.settings
    since = start_of_today(settings.handoff_timezone)
    with app.ctx.db.reading() as session:
        by_skill = skill_responses(session, since, since + timedelta(days=1),
                                   settings.service_target)
    figures = {skill: {"service_level": r.service_level, "responses": r.first_total,
                       "first_breaches": r.first, "unanswered": r.unanswered,
                       "next_breaches": r.next} for skill, r in by_skill.items()}
    cache.update(at=time.monotonic(), figures=figures)
    return figures
