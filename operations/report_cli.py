"""``switchboard report``: the service report of a period, as text, JSON or CSV, and charts.

The metrics are defined in ``operations.reports``; this module only chooses the period, prints
and writes files. Target breaches ("Target breaches", ``response_breaches`` in JSON and CSV),
in total and per skill with that skill's targets (``HANDOFF_SKILL_TARGETS``, else
``HANDOFF_FIRST_RESPONSE_SECONDS`` / ``HANDOFF_NEXT_RESPONSE_SECONDS``): agents' first responses
later than the first target after the chat was queued, next responses later than the next
target after the customer wrote, abandons and the service level (definitions in
``operations.reports.response_breaches``).

Like ``switchboard contacts``, it migrates the database first and says what
was wrong in one line instead of a traceback.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from contacts.models import Channel
from contacts.serialize import parse_moment
from contacts.service import ContactError, utcnow
from operations.reports import Report, ReportError, build_report
from switchboard import migrate

DEFAULT_DAYS = 7
MAX_DAYS = 3660  # ten years: a day per line in "Handoffs per day"
CSV_COLUMNS = ("metric", "key", "value")


def add_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("report", help="service report of a period (contact records)")
    parser.add_argument("--since", help="ISO date or date-time (UTC); default: 7 days before "
                                        "--until")
    parser.add_argument("--until", help="ISO date or date-time (UTC), exclusive; default: now")
    parser.add_argument("--channel", help="only contacts on this channel (e.g. sms)")
    parser.add_argument("--format", choices=["text", "json", "csv"], default="text")
    parser.add_argument("--charts", metavar="DIR", help="also write PNG charts into DIR")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        db = migrate.migrated_database(args.services.settings)
        since, until = period(args.since, args.until)
        with db.reading() as session:
            _require_channel(session, args.channel)
            report = build_report(session, since, until, args.channel,
                                  args.services.settings.service_target)
        print(render(report, args.format), end="")
        if args.charts:
            _write_charts(report, Path(args.charts))
    except (ContactError, ReportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        print(f"error: database: {_first_line(exc)}", file=sys.stderr)
        return 2
    return 0


def period(since_text: str | None, until_text: str | None) -> tuple[datetime, datetime]:
    """The report's ``[since, until)``: until defaults to now, since to 7 days before until."""
    until = parse_moment(until_text, "--until") or utcnow()
    try:
        since = parse_moment(since_text, "--since") or until - timedelta(days=DEFAULT_DAYS)
    except OverflowError:  # --until in the first week of year 1
        raise ReportError(f"--until ({until.date().isoformat()}) leaves no room for the "
                          "default week before it: give --since") from None
    if until - since > timedelta(days=MAX_DAYS):
        raise ReportError(f"the period is longer than {MAX_DAYS} days: report it in parts")
    if since >= until:
        raise ReportError(f"--since ({since:%Y-%m-%d %H:%M:%S}) must be before --until "
                          f"({until:%Y-%m-%d %H:%M:%S})")
    return since, until


def render(report: Report, output_format: str) -> str:
    """The report as ``text``, ``json`` or ``csv`` (rows: metric, key, value)."""
    if output_format == "json":
        return json.dumps(report.to_dict(), indent=2) + "\n"
    if output_format == "csv":
        return _csv(report)
    return "\n".join(text_lines(report)) + "\n"


# --- Text -----------------------------------------------------------------------------------

def text_lines(report: Report) -> Iterator[str]:
    data = report.to_dict()
    owner = data["final_owner"]
    wait, handle, csat = data["speed_of_answer"], data["handle_time"], data["csat"]
    yield (f"Service report: contacts started {report.scope.since:%Y-%m-%d %H:%M} to "
           f"{report.scope.until:%Y-%m-%d %H:%M} UTC, {report.scope.channel or 'all channels'}")
    yield _line("Contacts", f"{report.contacts} ({report.unique_customers} people)")
    yield _line("Final owner", ", ".join(f"{name} {o['contacts']} ({o['completed']} completed)"
                                         for name, o in owner.items()))
    yield _line("Containment", _ratio(data["containment"], "contacts, bot alone"))
    yield _line("Handoff rate", _ratio(data["handoff"], "contacts"))
    yield _line("Handoff reasons", _counts(data["handoff_reasons"]))
    yield _line("Queue abandonment", _ratio(data["queue_abandonment"], "queued handoffs"))
    yield _line("Speed of answer", f"ASA {_seconds(wait['average_seconds'])}, p50 "
                f"{_seconds(wait['p50_seconds'])}, p90 {_seconds(wait['p90_seconds'])} "
                f"({wait['answered']} answered)")
    yield _line("  waits", _counts(wait["buckets"], sep=": "))
    yield _line("Average handle time", f"{_seconds(handle['average_seconds'])} "
                f"({handle['handles']} agent turns)")
    yield _line("First-contact resolution",
                _ratio(data["first_contact_resolution"], "completed contacts"))
    average = "-" if csat["average"] is None else f"{csat['average']:.2f}"
    yield _line("CSAT", f"{average} ({csat['responses']} ratings; "
                f"{_counts(csat['distribution'], sep=': ')})")
    yield _line("Top intents", _counts(dict(report.top_intents)))
    yield _line("Top fallback texts", _counts({f'"{t}"': n for t, n in report.top_fallback_texts}))
    yield _line("Volume by weekday", _counts(data["volume_by_weekday"]))
    yield _line("Volume by hour", _counts({f"{h:02d}h": n for h, n
                                           in enumerate(report.volume_by_hour) if n}))
    breaches = data["response_breaches"]
    yield _line("Target breaches", "; ".join(
        f"{what} {b['breaches']} of {b['responses']}"
        for what, b in (("first response", breaches["first_response"]),
                        ("next response", breaches["next_response"]))))
    for skill, b in breaches["by_skill"].items():
        first, next_ = b["first_response"], b["next_response"]
        level = "-" if b["service_level"] is None else f"{100 * b['service_level']:.1f}%"
        yield _line(f"  {skill}", f"service level {level}; first response {first['breaches']} "
                    f"of {first['responses']} over {first['target_seconds']:g} s, "
                    f"{b['unanswered']} unanswered; next response {next_['breaches']} of "
                    f"{next_['responses']} over {next_['target_seconds']:g} s")
    yield _line("Handoffs per day", ", ".join(f"{d['date']} {d['handed_off']}/{d['contacts']}"
                                              for d in data["daily"]))


def _line(label: str, value: str) -> str:
    return f"{label:<26}{value}"


def _ratio(ratio: dict[str, Any], of_what: str) -> str:
    rate = "-" if ratio["rate"] is None else f"{100 * ratio['rate']:.1f}%"
    return f"{rate} ({ratio['count']} of {ratio['total']} {of_what})"


def _counts(counts: dict[Any, int], sep: str = " ") -> str:
    return ", ".join(f"{key}{sep}{n}" for key, n in counts.items()) or "-"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


# --- CSV --------------------------------------------------------------------------------------

def _csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_rows(report.to_dict()))
    return buffer.getvalue()


def csv_rows(data: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(metric, key, value) rows: ``contacts,,9``; ``handoff,rate,0.75``; ``top_intents,greet,2``;
    ``volume_by_hour,9,2``; ``daily.contacts,2026-03-02,2``. None is an empty cell."""
    for name, value in data.items():
        if isinstance(value, (dict, list)):
            yield from _nested_rows(name, value)
        else:
            yield name, "", _cell(value)


def _nested_rows(metric: str, value: dict | list) -> Iterator[tuple[str, str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict):
                yield from _nested_rows(f"{metric}.{key}", item)
            else:
                yield metric, str(key), _cell(item)
        return
    for index, item in enumerate(value):
        if not isinstance(item, dict):  # a list of numbers: the key is the position
            yield metric, str(index), _cell(item)
            continue
        (_, label), *fields = item.items()  # a list of records: the first field is the key
        for field, cell in fields:
            yield (metric if len(fields) == 1 else f"{metric}.{field}"), str(label), _cell(cell)


def _cell(value: Any) -> Any:
    return "" if value is None else value


# --- Helpers --------------------------------------------------------------------------------

def _require_channel(session: Session, channel: str | None) -> None:
    if channel is None or session.get(Channel, channel) is not None:
        return
    known = ", ".join(session.scalars(select(Channel.code).order_by(Channel.code)))
    raise ReportError(f"unknown channel {channel!r}; configured: {known}")


def _write_charts(report: Report, directory: Path) -> None:
    from operations.charts import write_charts  # matplotlib: loaded only when charts are asked

    try:
        paths = write_charts(report, directory)
    except OSError as exc:
        raise ReportError(f"cannot write charts to {directory}: {exc.strerror or exc}") from exc
    for path in paths:
        print(f"chart written: {path}", file=sys.stderr)


def _first_line(exc: Exception) -> str:
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
