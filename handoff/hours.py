"""Opening hours of the agent floor, e.g. ``Mon-Fri 08:00-20:00; Sat-Sun 09:00-17:00``.

Out of hours nobody waits in the queue: the customer is offered to leave a message instead.
``24:00`` closes at midnight; a day not listed is closed all day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PART = re.compile(r"^(\w{3})(?:-(\w{3}))?\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class OpeningHours:
    spans: dict[int, tuple[time, time | None]]  # weekday (Mon=0) -> open, close (None: 24:00)
    zone: ZoneInfo
    text: str

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        span = self.spans.get(local.weekday())
        if span is None:
            return False
        opens, closes = span
        return opens <= local.time() and (closes is None or local.time() < closes)


def parse_hours(text: str, timezone: str = "Europe/London") -> OpeningHours:
    """``Mon-Fri 08:00-20:00; Sat 09:00-13:00`` in the given IANA time zone."""
    spans: dict[int, tuple[time, time | None]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        match = _PART.match(part.lower())
        if not match or match[1] not in DAYS or (match[2] and match[2] not in DAYS):
            raise ValueError(f"opening hours like 'Mon-Fri 08:00-20:00; Sat 09:00-13:00', "
                             f"not {part!r}")
        first, last = DAYS.index(match[1]), DAYS.index(match[2] or match[1])
        opens = time(int(match[3]), int(match[4]))
        closes = None if (int(match[5]), int(match[6])) == (24, 0) else \
            time(int(match[5]), int(match[6]))
        for day in range(first, last + 1):
            spans[day] = (opens, closes)
    return OpeningHours(spans, ZoneInfo(timezone), text)
