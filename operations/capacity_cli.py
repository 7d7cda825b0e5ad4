"""``switchboard capacity ...``: staffing from typed figures or from the contact records.

- ``erlang-c`` / ``erlang-a`` / ``chat``: one interval's staffing from typed figures.
- ``plan --from-contacts``: agents per hour of a typical week, measured, with a PNG heat map.
- ``forecast``: the call model's seats for the coming periods.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from operations import capacity, planning
from operations.capacity import Staffing, parse_duration, parse_target
from switchboard import migrate
from switchboard.settings import PROJECT_ROOT


def add_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("capacity", help="agents needed: Erlang C/A, chat, plan, forecast")
    sub = parser.add_subparsers(dest="capacity_command", required=True)
    for name, helptext in (("erlang-c", "calls that wait (nobody hangs up)"),
                           ("erlang-a", "customers who give up after a patience"),
                           ("chat", "agents holding several chats at once")):
        one = sub.add_parser(name, help=helptext)
        one.add_argument("--arrivals", type=float, required=True, help="contacts per interval")
        one.add_argument("--interval", default="30m", help="e.g. 30m, 1h, 600s")
        if name == "chat":
            one.add_argument("--aht", required=True,
                             help="handle time with 1, 2, ... chats at once: 180s,240s,330s")
        else:
            one.add_argument("--aht", required=True, help="average handle time, e.g. 180s")
        _targets(one)
        if name == "erlang-a":
            one.add_argument("--patience", required=True, help="mean patience, e.g. 120s")
        one.set_defaults(func=_run(_typed))

    plan = sub.add_parser("plan", help="agents per hour of a typical week, from the records")
    plan.add_argument("--from-contacts", action="store_true", required=True,
                      help="measure handoffs and handle times in the contact records")
    plan.add_argument("--since", required=True, help="date or ISO time (UTC)")
    plan.add_argument("--until", help="date or ISO time (UTC); default now")
    plan.add_argument("--channel", help="only contacts of this channel")
    plan.add_argument("--heatmap", help="where to write the PNG heat map (default: "
                                        "reports/capacity/plan-SINCE-UNTIL.png)")
    _targets(plan)
    plan.set_defaults(func=_run(_plan))

    ahead = sub.add_parser("forecast", help="seats for the coming periods (the call model)")
    ahead.add_argument("--subscribers", type=float, required=True)
    ahead.add_argument("--contacts-per-subscriber", type=float, required=True,
                       help="contacts per subscriber per month")
    ahead.add_argument("--human-share", type=float, required=True,
                       help="share of contacts needing a person, 0..1")
    ahead.add_argument("--busy-hour-share", type=float,
                       help="the busy hour's share of a day's contacts (default: measured with "
                            "--from-contacts, else 0.12)")
    ahead.add_argument("--aht", default="240s")
    ahead.add_argument("--growth", type=float,
                       help="subscriber growth per period, e.g. 0.05 (default: the trend in "
                            "the records with --from-contacts)")
    ahead.add_argument("--periods", type=int, default=5)
    ahead.add_argument("--from-contacts", action="store_true",
                       help="take growth and busy-hour share from the records' handoffs")
    ahead.add_argument("--since", help="with --from-contacts: start of the measurement")
    _targets(ahead, occupancy=False)
    ahead.set_defaults(func=_run(_forecast))


def _targets(parser: argparse.ArgumentParser, occupancy: bool = True) -> None:
    parser.add_argument("--target", default="80/20s", help="service level, e.g. 80/20s")
    parser.add_argument("--shrinkage", type=float, default=0.0, help="e.g. 0.3")
    if occupancy:
        parser.add_argument("--asa", help="maximum average speed of answer, e.g. 30s")
        parser.add_argument("--max-occupancy", type=float, help="e.g. 0.85")


def _run(command: Callable[[argparse.Namespace], str]) -> Callable[[argparse.Namespace], int]:
    """Print the command's output; bad input is one line on stderr and exit status 2."""
    def run(args: argparse.Namespace) -> int:
        try:
            print(command(args))
        except ValueError as exc:
            print(f"switchboard capacity: {exc}", file=sys.stderr)
            return 2
        return 0
    return run


def _typed(args: argparse.Namespace) -> str:
    level, answer = parse_target(args.target)
    interval = parse_duration(args.interval)
    common: dict[str, Any] = {"target": level, "answer_seconds": answer,
                              "shrinkage": args.shrinkage, "max_occupancy": args.max_occupancy,
                              "max_asa_seconds": parse_duration(args.asa) if args.asa else None}
    if args.capacity_command == "chat":
        ahts = [parse_duration(part) for part in args.aht.split(",")]
        result = capacity.chat_staffing(args.arrivals, interval, ahts, **common)
    elif args.capacity_command == "erlang-a":
        result = capacity.erlang_a_staffing(args.arrivals, interval, parse_duration(args.aht),
                                            parse_duration(args.patience), **common)
    else:
        result = capacity.erlang_c_staffing(args.arrivals, interval, parse_duration(args.aht),
                                            **common)
    return describe(result, args.shrinkage)


def describe(result: Staffing, shrinkage: float) -> str:
    lines = [f"agents needed       {result.agents}",
             f"scheduled agents    {result.scheduled_agents} (shrinkage {shrinkage:.0%})",
             f"traffic             {result.traffic_erlangs:.2f} erlangs",
             f"P(wait)             {result.p_wait:.4f}",
             f"service level       {result.service_level:.4f}",
             f"ASA                 {result.asa_seconds:.2f} s",
             f"occupancy           {result.occupancy:.4f}"]
    if result.abandon_probability is not None:
        lines.append(f"P(abandon)          {result.abandon_probability:.4f}")
    if result.average_concurrency is not None:
        lines.append(f"chats per agent     {result.average_concurrency:.2f}")
    return "\n".join(lines)


def _plan(args: argparse.Namespace) -> str:
    from contacts.serialize import parse_moment
    from operations.reports import agent_handle_seconds, handoff_arrivals

    since = parse_moment(args.since)
    until = parse_moment(args.until) if args.until else datetime.utcnow()
    if until <= since:
        raise ValueError("--until must be after --since")
    level, answer = parse_target(args.target)
    with migrate.migrated_database(args.services.settings).reading() as session:
        arrivals = handoff_arrivals(session, since, until, args.channel)
        handles = agent_handle_seconds(session, since, until)
    plan = planning.weekly_plan(arrivals, handles, since, until, target=level,
                                answer_seconds=answer, shrinkage=args.shrinkage,
                                max_occupancy=args.max_occupancy)
    from operations.charts import plan_heatmap_png

    heatmap = Path(args.heatmap or PROJECT_ROOT / "reports" / "capacity" /
                   f"plan-{since:%Y%m%d}-{until:%Y%m%d}.png")
    heatmap.parent.mkdir(parents=True, exist_ok=True)
    heatmap.write_bytes(plan_heatmap_png(plan.grid(), planning.DAYS))
    return plan_table(plan, len(arrivals), str(heatmap))


def plan_table(plan: planning.WeeklyPlan, handoffs: int, heatmap: str) -> str:
    aht = (f"{plan.aht_seconds:.0f} s measured" if plan.aht_measured
           else f"{plan.aht_seconds:.0f} s (default: no finished agent chats measured)")
    lines = [f"{handoffs} handoffs over {plan.weeks:.1f} weeks; handle time {aht}.",
             "Scheduled agents per hour (UTC) of a typical week:",
             "hour " + " ".join(f"{d:>4}" for d in planning.DAYS)]
    grid = plan.grid()
    for hour in range(24):
        lines.append(f"{hour:02d}   " + " ".join(f"{grid[d][hour]:>4}" for d in range(7)))
    lines.append(f"Heat map: {heatmap}")
    return "\n".join(lines)


def _forecast(args: argparse.Namespace) -> str:
    growth, busy_share, source = args.growth, args.busy_hour_share, "configured"
    if args.from_contacts:
        from contacts.serialize import parse_moment
        from operations.reports import handoff_arrivals

        since = parse_moment(args.since) if args.since else datetime.utcnow() - timedelta(
            days=365)
        with migrate.migrated_database(args.services.settings).reading() as session:
            arrivals = handoff_arrivals(session, since, datetime.utcnow())
        if growth is None:
            growth, source = planning.monthly_growth(arrivals), "measured monthly trend"
            if growth is None:
                raise ValueError("fewer than three months of handoffs: give --growth")
        busy_share = busy_share or planning.busy_hour_share(arrivals)
    if growth is None:
        raise ValueError("give --growth, or --from-contacts to measure the trend")
    level, answer = parse_target(args.target)
    model = planning.CallModel(args.subscribers, args.contacts_per_subscriber, args.human_share,
                               busy_share or 0.12, parse_duration(args.aht), level, answer,
                               args.shrinkage)
    rows = planning.forecast(model, growth, args.periods)
    lines = [f"growth {growth:+.1%} per period ({source}); busy hour {model.busy_hour_share:.1%}"
             f" of a day; AHT {model.aht_seconds:.0f} s; target {args.target}",
             "period  subscribers  human/month  busy hour  agents  scheduled"]
    lines += [f"{r.period:>6}  {r.subscribers:>11,.0f}  {r.human_contacts_per_month:>11,.0f}  "
              f"{r.busy_hour_contacts:>9,.1f}  {r.agents:>6}  {r.scheduled:>9}" for r in rows]
    return "\n".join(lines)
