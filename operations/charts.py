"""PNG charts of a service report (matplotlib's Agg backend: no display, no pyplot state).

Each chart function takes a ``Report`` and returns PNG bytes; ``write_charts`` saves all of
them. Charts draw only what the report computed, so they always agree with its numbers.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import DateFormatter, DayLocator, date2num
from matplotlib.figure import Figure

from operations.reports import Report

SIZE = (8, 4)  # inches
DPI = 100
COLOR = "#2f6f9f"


def volume_by_hour_png(report: Report) -> bytes:
    """Bar chart: contacts started in each hour of the day (UTC)."""
    figure, axes = _figure()
    axes.bar(range(24), report.volume_by_hour, color=COLOR)
    axes.set_xticks(range(24))
    axes.set_xlabel("hour of day (UTC)")
    axes.set_ylabel("contacts started")
    axes.set_title(f"Volume by hour of day\n{_period(report)}")
    return _png(figure)


def handoff_rate_png(report: Report) -> bytes:
    """Line chart: share of each day's contacts handed off (days without contacts: a gap)."""
    figure, axes = _figure()
    days = [day.date for day in report.daily]
    rates = [math.nan if day.handoff_rate is None else 100 * day.handoff_rate
             for day in report.daily]
    axes.plot(days, rates, marker="o", color=COLOR)
    if days:  # the period's days, whatever matplotlib would pick around a few points
        axes.set_xlim(date2num(days[0]) - 0.5, date2num(days[-1]) + 0.5)
        axes.xaxis.set_major_locator(DayLocator(interval=max(1, len(days) // 10)))
        axes.xaxis.set_major_formatter(DateFormatter("%d %b"))
    axes.set_ylim(0, 100)
    axes.set_ylabel("handed off (% of contacts)")
    axes.set_title(f"Handoff rate per day\n{_period(report)}")
    figure.autofmt_xdate()
    return _png(figure)


def speed_of_answer_png(report: Report) -> bytes:
    """Bar chart: how long queued customers waited for an agent, by bucket."""
    figure, axes = _figure()
    buckets = report.speed_of_answer.buckets
    axes.bar(list(buckets), list(buckets.values()), color=COLOR)
    axes.set_xlabel("wait for an agent")
    axes.set_ylabel("answered handoffs")
    average = report.speed_of_answer.average
    asa = "no answered handoffs" if average is None else f"ASA {average:.0f} s"
    axes.set_title(f"Speed of answer ({asa})\n{_period(report)}")
    return _png(figure)


CHARTS: dict[str, Callable[[Report], bytes]] = {
    "volume_by_hour.png": volume_by_hour_png,
    "handoff_rate_by_day.png": handoff_rate_png,
    "speed_of_answer.png": speed_of_answer_png,
}


def write_charts(report: Report, directory: Path) -> list[Path]:
    """Every chart as a PNG file in ``directory`` (created if missing); returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, draw in CHARTS.items():
        path = directory / name
        path.write_bytes(draw(report))
        paths.append(path)
    return paths


def plan_heatmap_png(grid: list[list[int]], days: tuple[str, ...]) -> bytes:
    """Heat map: scheduled agents per hour (rows) of each weekday (columns) of a staffing plan."""
    figure, axes = _figure()
    figure.set_size_inches(10, 5)
    image = axes.imshow([[grid[d][h] for d in range(len(days))] for h in range(24)],
                        aspect="auto", cmap="YlOrRd")
    axes.set_xticks(range(len(days)))
    axes.set_xticklabels(days)
    axes.set_yticks(range(0, 24, 2))
    axes.set_yticklabels([f"{h:02d}:00" for h in range(0, 24, 2)])
    axes.set_title("Scheduled agents per hour of a typical week (UTC)")
    figure.colorbar(image, ax=axes, label="agents")
    return _png(figure)


def _figure():
    figure = Figure(figsize=SIZE, dpi=DPI, tight_layout=True)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.yaxis.get_major_locator().set_params(integer=True)
    return figure, axes


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _period(report: Report) -> str:
    scope = report.scope
    channel = scope.channel or "all channels"
    return f"{scope.since:%Y-%m-%d %H:%M} to {scope.until:%Y-%m-%d %H:%M} UTC, {channel}"
