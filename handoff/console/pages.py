"""The console's pages: the queue (home), a conversation, the supervisor view. Rendered on the
server with every text escaped; console.js keeps them current."""

from __future__ import annotations

import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sanic import Request, response
from sanic.response import HTTPResponse

from accounts.backend import load_backend
from contacts import events, service
from handoff import inbox, logins, presence, queue
from handoff.canned import canned_answers
from handoff.console import blueprint
from handoff.console.auth import (
    agent_record,
    csrf_field,
    csrf_ok,
    csrf_token,
    current_agent,
    in_thread,
)
from handoff.console.html import escape, page
from handoff.console.live import snapshot
from handoff.queue import Handoff
from operations.report_cli import text_lines
from operations.reports import Report, build_report
from switchboard.log import get_logger
from switchboard.redis_client import redis_client

log = get_logger(__name__)


def chat_url(sender_id: str) -> str:
    return f"/console/chat/{urllib.parse.quote(sender_id, safe='')}"


@blueprint.get("/")
async def home(request: Request) -> HTTPResponse:
    agent = await agent_record(request)
    cursor = await in_thread(inbox.cursor, redis_client(), agent.id)
    state = await in_thread(snapshot, agent.id, request.app.ctx.settings.agent_timeout_seconds)
    me = next((a for a in state["agents"] if a["agent_id"] == agent.id), {"status": "offline"})
    rows = "".join(_queue_row(request, r) for r in state["queue"])
    mine = "".join(f'<li><a href="{escape(chat_url(c["sender_id"]))}">'
                   f'{escape(c["sender_id"])}</a> ({escape(c["channel"])}, '
                   f'{escape(c["reason"])})</li>' for c in state["mine"])
    statuses = "".join(f'<option value="{s}"{" selected" if s == me["status"] else ""}>{s}'
                       f"</option>" for s in ("online", "away"))
    notice = '<p class="notice">Nobody is waiting for your skills.</p>' \
        if request.args.get("empty") else ""
    supervisor = '<a href="/console/supervisor">Supervisor view</a>' if agent.supervisor else ""
    return response.html(page("Queue", f"""
<nav>Logged in as <strong>{escape(agent.display_name)}</strong> ({escape(agent.skills)};
  {agent.capacity} chats at once). {supervisor}
  <form method="post" action="/console/status" class="inline">{csrf_field(request)}
    <select name="status" id="status">{statuses}</select><button>Set</button></form>
  <form method="post" action="/console/logout" class="inline">{csrf_field(request)}
    <button>Log out</button></form></nav>
{notice}
<section><h2>My chats</h2><ul id="mine">{mine}</ul></section>
<section><h2>Waiting</h2>
<form method="post" action="/console/take">{csrf_field(request)}<button id="take">Take next</button>
</form>
<table id="queue"><thead><tr><th>Skill</th><th>Priority</th><th>Channel</th><th>Reason</th>
<th>Waiting</th><th>Last message</th><th></th></tr></thead><tbody>{rows}</tbody></table>
</section>""", data=f'data-page="queue" data-csrf="{escape(csrf_token(request))}" '
                                f'data-cursor="{escape(cursor)}"'))


def _queue_row(request: Request, row: dict[str, Any]) -> str:
    return (f"<tr><td>{escape(row['skill'])}</td><td>{row['priority']}</td>"
            f"<td>{escape(row['channel'])}</td><td>{escape(row['reason'])}</td>"
            f"<td>{row['waiting_seconds'] // 60} min</td>"
            f"<td>{escape(row['last_customer_text'])}</td>"
            f'<td><form method="post" action="/console/pick">{csrf_field(request)}'
            f'<input type="hidden" name="sender_id" value="{escape(row["sender_id"])}">'
            f"<button>Pick</button></form></td></tr>")


@dataclass
class ChatView:
    turns: list[tuple[str, str]]
    history: list[dict[str, str]]
    dispositions: list[tuple[str, str]]
    profile: dict[str, str]


@blueprint.get("/chat/<sender_id>")
async def chat(request: Request, sender_id: str) -> HTTPResponse:
    sender_id = urllib.parse.unquote(sender_id)
    if not await owns(request, sender_id):
        return response.text("This conversation is not yours.", status=403)
    cursor = await in_thread(inbox.cursor, redis_client(), current_agent(request))
    handoff = await in_thread(queue.record, redis_client(), sender_id)
    # The contact recorder may be a moment behind what was just said: wait for it (briefly)
    # so the transcript is whole; later messages arrive over the socket.
    await in_thread(events.wait_recorded, redis_client(), 2.0)
    view = await in_thread(_chat_view, request.app, sender_id, handoff)
    action, csrf = chat_url(sender_id), csrf_field(request)
    lines = "".join(f'<li class="{escape(author)}"><b>{escape(author)}</b>: {escape(text)}</li>'
                    for author, text in view.turns)
    history = "".join(f"<tr><td>{escape(h['started'])}</td><td>{escape(h['channel'])}</td>"
                      f"<td>{escape(h['topic'])}</td><td>{escape(h['status'])}</td>"
                      f"<td>{escape(h['reference'])}</td></tr>" for h in view.history)
    profile = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in view.profile.items())
    options = "".join(f'<option value="{escape(code)}">{escape(name)}</option>'
                      for code, name in view.dispositions)
    skills = "".join(f'<option value="skill:{s}">{s} queue</option>' for s in queue.SKILLS)
    colleagues = "".join(
        f'<option value="agent:{escape(p.agent_id)}">{escape(p.agent_id)} ({p.load}/'
        f"{p.capacity})</option>" for p in await _colleagues_with_room(request))
    canned = "".join(f'<option value="{escape(key)}" data-text="{escape(text)}">'
                     f"{escape(key.replace('_', ' '))}</option>"
                     for key, text in canned_answers().items())
    return response.html(page(f"Conversation {sender_id}", f"""
<nav><a href="/console/">← Queue</a></nav>
<div class="columns"><main>
<ol id="transcript">{lines}</ol>
<form method="post" action="{action}/reply" id="reply">{csrf}
  <select name="canned" id="canned"><option value="">Canned answer…</option>{canned}</select>
  <textarea name="text" maxlength="2000" placeholder="Your reply"></textarea>
  <button>Send</button></form>
<form method="post" action="{action}/note" id="note">{csrf}
  <input name="text" maxlength="2000" required placeholder="Internal note (never sent)">
  <button>Add note</button></form>
<form method="post" action="{action}/transfer">{csrf}
  <select name="to">{skills}{colleagues}</select><button>Transfer</button></form>
<form method="post" action="{action}/return">{csrf}<button>Return to the bot</button></form>
<form method="post" action="{action}/close">{csrf}
  <select name="disposition">{options}</select>
  <label><input type="checkbox" name="csat" value="1" checked> ask for a rating</label>
  <button>Close</button></form>
</main><aside>
<h2>Customer</h2><dl id="profile">{profile}</dl>
<h2>Last two months</h2>
<table id="history"><thead><tr><th>Started</th><th>Channel</th><th>Topic</th><th>Status</th>
<th>Reference</th></tr></thead><tbody>{history}</tbody></table>
</aside></div>""", data=f'data-page="chat" data-sender="{escape(sender_id)}" '
                                           f'data-cursor="{escape(cursor)}"'))


async def _colleagues_with_room(request: Request) -> list[presence.Presence]:
    """Other agents online now with a free seat: whom a chat can be transferred to."""
    everyone = await in_thread(presence.everyone, redis_client())
    timeout, now = request.app.ctx.settings.agent_timeout_seconds, time.time()
    return [p for p in everyone if p.agent_id != current_agent(request) and p.free
            and p.effective_status(now, timeout) == "online"]


def _chat_view(app: Any, sender_id: str, handoff: Handoff | None) -> ChatView:
    with app.ctx.db.reading() as session:
        contact = service.latest_contact(session, sender_id)
        turns, history, note = [], [], None
        if contact is not None:
            note = service.reachability_note(contact.identity)  # opted out (STOP), undeliverable
            detail = service.contact_detail(session, contact.reference)
            turns = [(t.author, t.text) for t in detail.touches]
            past = service.identity_contacts(session, contact.channel,
                                             contact.identity.external_id)
            history = [{"started": f"{s.contact.started_at:%d %b %H:%M}",
                        "channel": s.contact.channel, "topic": s.topic or "",
                        "status": s.contact.status, "reference": s.contact.reference}
                       for s in past.contacts]
        dispositions = [(row["code"], row["name"]) for row in
                        service.contact_configuration(session)["disposition_codes"]]
    profile = _profile(app, handoff)
    if note:
        profile["Messages"] = note
    return ChatView(turns, history, dispositions, profile)


def _profile(app: Any, handoff: Handoff | None) -> dict[str, str]:
    if handoff is None:
        return {}
    profile = {"Channel": handoff.channel, "Why": handoff.reason.replace("_", " "),
               "Asked about": handoff.trigger_intent or "—", "Skill": handoff.skill,
               "Verified": "yes" if handoff.verified else "no"}
    if handoff.verified and handoff.customer_msisdn:
        summary = load_backend(app.ctx.settings).summary(handoff.customer_msisdn)
        profile.update({"Number": summary.msisdn, "Name": summary.holder_name,
                        "Plan": summary.plan.name, "Line": summary.line_status})
    return profile


@blueprint.get("/supervisor")
async def supervisor(request: Request) -> HTTPResponse:
    agent = await agent_record(request)
    if not agent.supervisor:
        return response.text("The supervisor view is for supervisors.", status=403)
    state = await in_thread(snapshot, agent.id, request.app.ctx.settings.agent_timeout_seconds)
    skills = "".join(f"<tr><td>{escape(skill)}</td><td>{s['waiting']}</td>"
                     f"<td>{s['longest_wait'] // 60} min {s['longest_wait'] % 60} s</td></tr>"
                     for skill, s in state["skills"].items())
    agents = "".join(f"<tr><td>{escape(a['agent_id'])}</td><td>{escape(a['status'])}</td>"
                     f"<td>{a['load']}/{a['capacity']}</td><td>{escape(', '.join(a['skills']))}"
                     f"</td></tr>" for a in state["agents"])
    days = _report_days(request)
    report = "\n".join(text_lines(await in_thread(_report, request.app, days)))
    charts = "".join(f'<img src="/console/supervisor/chart/{name}.png?days={days}" '
                     f'alt="{escape(title)}" class="chart">' for name, title in CHARTS.items())
    periods = " ".join(f'<a href="?days={n}">{label}</a>' for n, label in
                       ((1, "today"), (7, "7 days"), (30, "30 days")))
    return response.html(page("Supervisor", f"""
<nav><a href="/console/">← Queue</a></nav>
<h2>Queues</h2><table id="skills"><thead><tr><th>Skill</th><th>Waiting</th>
<th>Longest wait</th></tr></thead><tbody>{skills}</tbody></table>
<h2>Agents</h2><table id="agents"><thead><tr><th>Agent</th><th>Status</th><th>Load</th>
<th>Skills</th></tr></thead><tbody>{agents}</tbody></table>
<p class="updated">As of {time.strftime('%H:%M:%S')}</p>
{await _locked_logins(request)}
<h2>Service report, last {days} day(s)</h2><p>{periods}</p>
<div id="charts">{charts}</div>
<pre id="report">{escape(report)}</pre>""", data='data-page="supervisor"'))


async def _locked_logins(request: Request) -> str:
    """Agent names and addresses locked out after wrong passwords, each with an unlock button."""
    rows = "".join(
        f"<tr><td>{escape(lock.kind)}</td><td>{escape(lock.name)}</td>"
        f"<td>{max(round(lock.seconds_left / 60), 1)} min</td>"
        f'<td><form method="post" action="/console/supervisor/unlock">{csrf_field(request)}'
        f'<input type="hidden" name="subject" value="{escape(lock.subject)}">'
        f"<button>Unlock</button></form></td></tr>"
        for lock in await in_thread(logins.locks, redis_client()))
    return ('<h2>Locked logins</h2><table id="locks"><thead><tr><th>Locked</th><th>Who</th>'
            f"<th>Left</th><th></th></tr></thead><tbody>{rows}</tbody></table>")


@blueprint.post("/supervisor/unlock")
async def supervisor_unlock(request: Request) -> HTTPResponse:
    """A supervisor lifts a login lock early (logged with who did it)."""
    agent = await agent_record(request)
    if not agent.supervisor:
        return response.text("The supervisor view is for supervisors.", status=403)
    if not csrf_ok(request):
        return response.text("The form expired: reload the page.", status=403)
    subject = request.form.get("subject") or ""
    if await in_thread(logins.unlock, redis_client(), subject):
        log.info("console.login_unlocked", locked=subject.split(":", 1)[0],
                 who=subject.split(":", 1)[-1], by=agent.id)
    return response.redirect("/console/supervisor")


# The supervisor's charts (operations/charts.py), by the name in their URL.
CHARTS = {"volume-by-hour": "Contacts by hour of day",
          "handoff-rate": "Handoff rate by day",
          "speed-of-answer": "Speed of answer distribution"}


@blueprint.get("/supervisor/chart/<filename>")
async def supervisor_chart(request: Request, filename: str) -> HTTPResponse:
    from operations import charts

    agent = await agent_record(request)
    if not agent.supervisor:
        return response.text("The supervisor view is for supervisors.", status=403)
    draw = {"volume-by-hour": charts.volume_by_hour_png, "handoff-rate": charts.handoff_rate_png,
            "speed-of-answer": charts.speed_of_answer_png}.get(filename.removesuffix(".png"))
    if draw is None:
        return response.text("No such chart.", status=404)
    report = await in_thread(_report, request.app, _report_days(request))
    return response.raw(await in_thread(draw, report), content_type="image/png",
                        headers={"Cache-Control": "no-store"})


def _report_days(request: Request) -> int:
    given = request.args.get("days") or "7"
    return min(max(int(given), 1), 90) if given.isdigit() else 7


REPORT_SECONDS = 30  # the supervisor page and its three charts share one report this long


def _report(app: Any, days: int) -> Report:
    """The last ``days`` days' report, built once for the page and its charts (not four times
    per page view)."""
    cache = app.ctx.__dict__.setdefault("supervisor_reports", {})
    built_at, report = cache.get(days, (0.0, None))
    if report is None or time.monotonic() - built_at > REPORT_SECONDS:
        until = datetime.utcnow()
        with app.ctx.db.reading() as session:
            report = build_report(session, until - timedelta(days=days), until)
        cache[days] = (time.monotonic(), report)
    return report


async def owns(request: Request, sender_id: str) -> bool:
    holder = await in_thread(queue.owner, redis_client(), sender_id)
    return holder == f"agent:{current_agent(request)}"
