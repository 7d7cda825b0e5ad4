"""The week's plan and the forward view (operations/planning.py) and the `switchboard
capacity` command, checked against the published worked example (100 calls per 30 min = 200
per hour, AHT 180 s, 80/20 -> 14 agents, 20 scheduled at 30% shrinkage)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from operations import planning
from processes.cli import main

MONDAY = datetime(2026, 11, 2)  # a Monday


def test_a_typical_week_from_four_weeks_of_handoffs():
    since, until = MONDAY, MONDAY + timedelta(weeks=4)
    arrivals = []
    for week in range(4):  # each Monday 10:00-11:00: 200 handoffs; Tuesday 09:00: 1 every week
        start = MONDAY + timedelta(weeks=week, hours=10)
        arrivals += [start + timedelta(seconds=18 * i) for i in range(200)]
        arrivals.append(MONDAY + timedelta(weeks=week, days=1, hours=9, minutes=5))
    plan = planning.weekly_plan(arrivals, [170.0, 190.0], since, until, target=0.8,
                                answer_seconds=20, shrinkage=0.3)
    cells = {(h.day, h.hour): h for h in plan.hours}
    assert cells[(0, 10)].arrivals == 200 and cells[(0, 10)].agents == 14
    assert cells[(0, 10)].scheduled == 20
    assert cells[(1, 9)].arrivals == 1 and cells[(1, 9)].agents == 1  # never zero for work
    assert cells[(2, 10)].agents == 0 and plan.weeks == 4
    assert plan.aht_seconds == 180 and plan.aht_measured


def test_a_slot_seen_once_is_not_averaged_over_weeks_it_was_not_measured():
    since = MONDAY + timedelta(hours=10)
    until = since + timedelta(days=10)  # Mondays 10:00 twice, Thursdays 10:00 once
    seen = planning.occurrences(since, until)
    assert seen[(0, 10)] == 2 and seen[(3, 10)] == 1 and seen[(0, 9)] == 1


def test_the_forecast_is_the_call_model_period_by_period():
    # 30,400 subscribers x 1 contact a month x 50% human = 15,200 a month = 500 a day;
    # 40% in the busy hour = 200 an hour: the worked example -> 14 agents, 20 scheduled.
    model = planning.CallModel(30_400, 1.0, 0.5, 0.4, 180, 0.8, 20, shrinkage=0.3)
    now, later = planning.forecast(model, growth=0.5, periods=1)
    assert now.human_contacts_per_month == pytest.approx(15_200)
    assert now.busy_hour_contacts == pytest.approx(200)
    assert (now.agents, now.scheduled) == (14, 20)
    assert later.subscribers == pytest.approx(45_600) and later.busy_hour_contacts == \
        pytest.approx(300)
    assert later.agents > now.agents


def test_the_trend_and_the_busy_hour_are_measured_from_handoffs():
    arrivals = []
    for month in range(1, 7):  # 100, 110, 121, ... handoffs a month: +10% a month
        count = round(100 * 1.1 ** (month - 1))
        day = datetime(2026, month, 10)
        arrivals += [day + timedelta(hours=9 + (i % 4 == 0)) for i in range(count)]
    assert planning.monthly_growth(arrivals) == pytest.approx(0.10, abs=0.01)
    assert planning.monthly_growth(arrivals[:200]) is None  # fewer than three months
    one_day = [datetime(2026, 1, 1, 9)] * 3 + [datetime(2026, 1, 1, 15)]
    assert planning.busy_hour_share(one_day) == pytest.approx(0.75)


def test_the_command_prints_the_worked_example(capsys):
    assert main(["capacity", "erlang-c", "--arrivals", "100", "--interval", "30m", "--aht",
                 "180s", "--target", "80/20s", "--shrinkage", "0.3"]) == 0
    out = capsys.readouterr().out
    for line in ("agents needed       14", "scheduled agents    20", "P(wait)             0.1741",
                 "service level       0.8884", "ASA                 7.84 s"):
        assert line in out
    assert main(["capacity", "erlang-c", "--arrivals", "1000", "--interval", "1h", "--aht",
                 "120s", "--max-occupancy", "0.85"]) == 0
    assert "agents needed       40" in capsys.readouterr().out
    assert main(["capacity", "erlang-c", "--arrivals", "25", "--interval", "600s", "--aht",
                 "180s", "--shrinkage", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "agents needed       11" in out and "scheduled agents    16" in out


def test_bad_figures_are_one_line_not_a_traceback(capsys):
    assert main(["capacity", "erlang-c", "--arrivals", "100", "--interval", "30x",
                 "--aht", "180s"]) == 2
    err = capsys.readouterr().err
    assert "invalid duration" in err and "Traceback" not in err
    assert main(["capacity", "forecast", "--subscribers", "1000", "--contacts-per-subscriber",
                 "1", "--human-share", "0.5"]) == 2
    assert "--growth" in capsys.readouterr().err


def generated_month(db) -> None:
    """Four weeks of contacts: every Monday 10:00-11:00, 200 customers handed to agents who
    each take 180 s (the worked example's load); a few quiet handoffs on Wednesday afternoons."""
    from contacts import service

    with db.transaction() as session:
        for week in range(4):
            for n, hour, count in ((0, 10, 200), (2, 15, 3)):
                start = MONDAY + timedelta(weeks=week, days=n, hours=hour)
                for i in range(count):
                    at = start + timedelta(seconds=3600 * i / count)
                    contact = service.begin_contact(session, channel="webchat",
                                                    external_id=f"m{week}-{n}-{i}", at=at)
                    service.record_operation(session, contact, category="handoff_requested",
                                             result="success", detail="requested", at=at)
                    picked = at + timedelta(seconds=15)
                    for category, moment in (("agent_pickup", picked),
                                             ("agent_release", picked + timedelta(seconds=180))):
                        service.record_operation(session, contact, category=category,
                                                 result="success", detail="tom", at=moment)


def test_the_plan_from_a_generated_month_of_contacts(db, tmp_path, monkeypatch, capsys):
    generated_month(db)
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(tmp_path))
    heatmap = tmp_path / "plan.png"
    assert main(["capacity", "plan", "--from-contacts", "--since", "2026-11-02",
                 "--until", "2026-11-30", "--target", "80/20s", "--shrinkage", "0.3",
                 "--heatmap", str(heatmap)]) == 0
    out = capsys.readouterr().out
    assert "812 handoffs over 4.0 weeks; handle time 180 s measured" in out
    rows = {line[:2]: line.split()[1:] for line in out.splitlines()
            if line[:2].isdigit() and line[2:5] == "   "}
    assert len(rows) == 24
    assert rows["10"] == ["20", "0", "0", "0", "0", "0", "0"]  # Monday 10:00: 14 -> 20 sched.
    assert rows["15"] == ["0", "0", "2", "0", "0", "0", "0"]  # 3 an hour: 1 agent -> 2
    assert heatmap.read_bytes()[:4] == b"\x89PNG" and heatmap.stat().st_size > 5000
