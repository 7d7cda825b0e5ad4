"""From measured contacts to seats: the week's staffing plan and the forward view.

- ``weekly_plan``: arrivals to the human queue (handoffs) and agents' handle times taken from
  the contact records, averaged into a typical week of hourly intervals, then each hour staffed
  with Erlang C (``operations.capacity``).
- ``forecast``: the seed's call model, period by period:

      human contacts per month = subscribers x contacts per subscriber per month x human share
      busy-hour contacts       = human contacts per month / days per month x busy-hour share
      seats                    = Erlang C staffing of the busy hour (target, AHT), scheduled
                                 with shrinkage

  with subscribers growing by a configured rate, or by the trend measured in the records.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from operations import capacity
from operations.reports import WEEKDAYS

DAYS = WEEKDAYS
DAYS_PER_MONTH = 30.4
HOUR = 3600.0


@dataclass(frozen=True)
class HourPlan:
    day: int  # Monday = 0
    hour: int
    arrivals: float  # mean handoffs in this hour of the week
    agents: int  # productive agents needed
    scheduled: int  # with shrinkage


@dataclass(frozen=True)
class WeeklyPlan:
    hours: list[HourPlan]
    aht_seconds: float
    aht_measured: bool  # False: no finished agent chats in the period, the default was used
    weeks: float  # how many weeks the measurement covers

    def grid(self, scheduled: bool = True) -> list[list[int]]:
        """Agents as a 7 x 24 grid (day by hour)."""
        cells = [[0] * 24 for _ in DAYS]
        for h in self.hours:
            cells[h.day][h.hour] = h.scheduled if scheduled else h.agents
        return cells


def occurrences(since: datetime, until: datetime) -> Counter:
    """How many times each (weekday, hour) slot occurs in [since, until): the denominators of
    per-slot means (a period of 10 days has some slots twice and some once)."""
    slots: Counter = Counter()
    moment = since.replace(minute=0, second=0, microsecond=0)
    while moment < until:
        slots[(moment.weekday(), moment.hour)] += 1
        moment += timedelta(hours=1)
    return slots


def weekly_plan(arrivals: Sequence[datetime], handle_seconds: Sequence[float],
                since: datetime, until: datetime, *, target: float, answer_seconds: float,
                shrinkage: float = 0.0, max_occupancy: float | None = None,
                default_aht: float = 240.0) -> WeeklyPlan:
    """Agents needed per hour of a typical week from measured handoffs and handle times."""
    seen = occurrences(since, until)
    counts = Counter((a.weekday(), a.hour) for a in arrivals if since <= a < until)
    aht = sum(handle_seconds) / len(handle_seconds) if handle_seconds else default_aht
    hours = []
    for day in range(7):
        for hour in range(24):
            mean = counts[(day, hour)] / seen[(day, hour)] if seen[(day, hour)] else 0.0
            agents = 0
            if mean > 0:
                agents = capacity.erlang_c_staffing(
                    mean, HOUR, aht, target=target, answer_seconds=answer_seconds,
                    max_occupancy=max_occupancy).agents
            hours.append(HourPlan(day, hour, mean, agents,
                                  capacity.scheduled_agents(agents, shrinkage)))
    return WeeklyPlan(hours, aht, bool(handle_seconds), (until - since) / timedelta(weeks=1))


@dataclass(frozen=True)
class CallModel:
    subscribers: float
    contacts_per_subscriber: float  # contacts per subscriber per month
    human_share: float  # the share of contacts that need a person
    busy_hour_share: float  # the busiest hour's share of a day's contacts
    aht_seconds: float
    target: float
    answer_seconds: float
    shrinkage: float = 0.0


@dataclass(frozen=True)
class PeriodForecast:
    period: int  # 0 = now
    subscribers: float
    human_contacts_per_month: float
    busy_hour_contacts: float
    agents: int
    scheduled: int


def forecast(model: CallModel, growth: float, periods: int) -> list[PeriodForecast]:
    """Seats for now and each coming period, subscribers growing by ``growth`` a period."""
    rows = []
    for period in range(periods + 1):
        subscribers = model.subscribers * (1 + growth) ** period
        monthly = subscribers * model.contacts_per_subscriber * model.human_share
        busy = monthly / DAYS_PER_MONTH * model.busy_hour_share
        agents = 0
        if busy > 0:
            agents = capacity.erlang_c_staffing(busy, HOUR, model.aht_seconds,
                                                target=model.target,
                                                answer_seconds=model.answer_seconds).agents
        rows.append(PeriodForecast(period, subscribers, monthly, busy, agents,
                                   capacity.scheduled_agents(agents, model.shrinkage)))
    return rows


def monthly_growth(arrivals: Sequence[datetime]) -> float | None:
    """The trend in the records: the monthly growth rate of handoffs, from a least-squares
    line through log(handoffs per month) over the complete months measured; None with fewer
    than three months."""
    per_month = Counter((a.year, a.month) for a in arrivals)
    months = sorted(per_month)
    if len(months) > 1:
        months = months[1:-1] if len(months) > 3 else months  # partial first/last months
    if len(months) < 3:
        return None
    xs = [(y - months[0][0]) * 12 + (m - months[0][1]) for y, m in months]
    ys = [math.log(per_month[month]) for month in months]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = (sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
             / sum((x - mean_x) ** 2 for x in xs))
    return math.exp(slope) - 1


def busy_hour_share(arrivals: Sequence[datetime]) -> float | None:
    """The busiest hour's share of its day's handoffs, averaged over the days measured."""
    by_day: dict = {}
    for a in arrivals:
        by_day.setdefault(a.date(), Counter())[a.hour] += 1
    shares = [max(hours.values()) / sum(hours.values()) for hours in by_day.values()]
    return sum(shares) / len(shares) if shares else None
