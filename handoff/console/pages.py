"""The console's pages: the queue (home), a conversation, the supervisor view. Rendered on the
server with every text escaped; console.js keeps them current."""

from __future__ import annotations

import re
import time
import urllib.parse
from dataclasses import dataclass, field
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
from handoff.console.html import clock, escape, page
from handoff.console.live import customer_label, snapshot
from handoff.console.service_level import service_today
from handoff.models import Agent
from handoff.queue import Handoff
from operations.report_cli import text_lines
from operations.reports import Report, build_report
from switchboard.log import get_logger

log = get_logger(__name__)


def chat_url(sender_id: str) -> str:
    return f"/console/chat/{urllib.parse.quote(sender_id, safe='')}"


@blueprint.get("/")
async def home(request: Request) -> HTTPResponse:
    agent = await agent_record(request)
    cursor = await in_thread(inbox.cursor, request.app.ctx.services.redis, agent.id)
    state = await _state(request, agent)
    notice = '<p class="notice" role="status">Nobody is waiting for your skills.</p>' \
        if request.args.get("empty") else ""
    middle = f"""{notice}<div class="empty-state"><h2>No conversation open</h2>
<p>Choose one from <strong>Mine</strong>, pick one that is waiting, or press
<kbd>Alt</kbd> + <kbd>N</kbd> to take the next. Press <kbd>?</kbd> for every shortcut.</p>
</div>"""
    right = _agents_panel(state)
    return _workspace(request, agent, state, "Queue", middle, right, cursor, sender_id="")


async def _state(request: Request, agent: Agent) -> dict[str, Any]:
    return await in_thread(snapshot, request.app.ctx.services, agent.id, None,
                           agent.supervisor)


def _workspace(request: Request, agent: Agent, state: dict[str, Any], title: str, middle: str,
               right: str, cursor: str, sender_id: str, extra_data: str = "") -> HTTPResponse:
    """The three panes: conversations (tabs), the open conversation, the customer."""
    me = next((a for a in state["agents"] if a["agent_id"] == agent.id), {"status": "offline"})
    statuses = "".join(f'<option value="{s}"{" selected" if s == me["status"] else ""}>{s}'
                       f"</option>" for s in ("online", "away"))
    csrf = csrf_field(request)
    supervisor = ('<a href="/console/supervisor">Supervisor view</a>' if agent.supervisor
                  else "")
    nav = f"""<span class="me">{escape(agent.display_name)}
<small>{escape(agent.skills)} · {agent.capacity} at once</small></span>{supervisor}
<form method="post" action="/console/status" class="inline">{csrf}
  <label for="status" class="sr-only">My status</label>
  <select name="status" id="status">{statuses}</select><button>Set</button></form>
<form method="post" action="/console/logout" class="inline">{csrf}<button>Log out</button></form>"""
    mine_rows = "".join(_row(c, "mine", sender_id) for c in state["mine"])
    queue_rows = "".join(_row(r, "queue", sender_id, csrf) for r in state["queue"])
    tabs = [("mine", "Mine", len(state["mine"]), mine_rows),
            ("queue", "Waiting for my skills", len(state["queue"]), queue_rows)]
    if agent.supervisor:
        tabs.append(("all", "All", len(state.get("all", [])),
                     "".join(_row(r, "all", sender_id, csrf)
                             for r in state.get("all", []))))
    first = "mine" if state["mine"] or sender_id else "queue"
    tablist = "".join(
        f'<button type="button" role="tab" id="tab-{key}" aria-controls="panel-{key}" '
        f'aria-selected="{"true" if key == first else "false"}" '
        f'tabindex="{0 if key == first else -1}">{label} <span class="count" '
        f'id="count-{key}">{count}</span></button>' for key, label, count, _ in tabs)
    panels = "".join(
        f'<div id="panel-{key}" class="tabpanel" role="tabpanel" aria-labelledby="tab-{key}"'
        f'{"" if key == first else " hidden"}><ul id="{key}" class="rows">{rows}</ul></div>'
        for key, _, _, rows in tabs)
    body = f"""<div class="workspace">
<nav class="pane pane--list" aria-label="Conversations">
  <form method="post" action="/console/take" class="take">{csrf}
    <button id="take" class="primary" aria-keyshortcuts="Alt+N">Take next</button></form>
  <div role="tablist" aria-label="Conversation lists" class="tabs">{tablist}</div>
  {panels}
</nav>
<main class="pane pane--chat" id="main">{middle}</main>
<aside class="pane pane--customer" aria-label="Customer">{right}</aside>
</div>"""
    kind = "chat" if sender_id else "queue"
    data = (f'data-page="{kind}" data-csrf="{escape(csrf_token(request))}" '
            f'data-cursor="{escape(cursor)}" data-sender="{escape(sender_id)}" '
            f'{extra_data}')
    return response.html(page(title, body, data=data, nav=nav))


def _row(row: dict[str, Any], kind: str, open_sender: str, csrf: str = "") -> str:
    """One conversation in a list: channel, customer, last message, a ticking wait, the
    unread count (console.js), a colour near and past its skill's service target (the first
    reply's while it waits in the queue, the next reply's while an agent holds it)."""
    sender = row["sender_id"]
    held = kind == "mine" or (kind == "all" and row.get("agent"))
    waited = row.get("waiting_reply_seconds") if held else row.get("waiting_seconds")
    target = row["target_seconds"]
    state = "" if waited is None else (
        " breach" if waited > target else " near" if waited > 0.75 * target else "")
    timer = "" if waited is None else (
        f'<span class="timer" data-waited="{waited}" data-target="{target:g}" '
        f'aria-label="waiting {waited // 60} min {waited % 60} s">'
        f"{waited // 60}:{waited % 60:02d}</span>")
    who = f'<span class="who">{escape(row.get("customer", ""))}</span>'
    meta = (f'<span class="channel channel--{escape(row["channel"])}">{escape(row["channel"])}'
            f'</span><span class="skill">{escape(row.get("skill", ""))}</span>')
    if row.get("agent"):
        meta += f'<span class="holder">with {escape(row["agent"])}</span>'
    last = f'<span class="last">{escape(row.get("last_customer_text", ""))}</span>'
    current = ' aria-current="page"' if sender == open_sender else ""
    unread = '<span class="unread" hidden></span>'
    if kind == "mine":
        inner = (f'<a href="{escape(chat_url(sender))}"{current} class="row__link">'
                 f'<span class="row__top">{who}{timer}{unread}</span>'
                 f'<span class="row__meta">{meta}</span>{last}</a>')
    else:
        pick = "" if row.get("agent") else (
            f'<form method="post" action="/console/pick" class="pick">{csrf}'
            f'<input type="hidden" name="sender_id" value="{escape(sender)}">'
            f'<button aria-label="Pick the chat of {escape(row.get("customer", ""))}">Pick'
            f"</button></form>")
        inner = (f'<div class="row__body"><span class="row__top">{who}{timer}</span>'
                 f'<span class="row__meta">{meta}</span>{last}</div>{pick}')
    return f'<li class="row{state}" data-sender="{escape(sender)}">{inner}</li>'


def _agents_panel(state: dict[str, Any]) -> str:
    """The right pane with no chat open: the skills' queues and who is online."""
    skills = "".join(f"<li><span>{escape(skill)}</span><span>{s['waiting']} waiting</span></li>"
                     for skill, s in state["skills"].items())
    online = "".join(f'<li><span>{escape(a["agent_id"])}</span><span class="status '
                     f'status--{escape(a["status"])}">{escape(a["status"])} · {a["load"]}/'
                     f'{a["capacity"]}</span></li>' for a in state["agents"])
    return (f'<h2>Queues</h2><ul class="facts" id="skill-counts">{skills}</ul>'
            f'<h2>Team</h2><ul class="facts" id="team">{online}</ul>')


@dataclass
class Bubble:
    """One line of a transcript: a message (customer, bot, agent), a note or a system event."""
    kind: str  # customer, bot, agent, note, system
    text: str
    at: datetime | None
    who: str = ""
    delivery: str = ""  # agent replies: "sent" or "not delivered (...)"


@dataclass
class ChatView:
    turns: list[Bubble]
    history: list[dict[str, str]]
    dispositions: list[tuple[str, str]]
    profile: dict[str, str]
    complaints: list[dict[str, str]] = field(default_factory=list)
    identity: tuple[str, str] | None = None  # the channel identity: (channel, external id)


@blueprint.get("/chat/<sender_id>")
async def chat(request: Request, sender_id: str) -> HTTPResponse:
    return await _chat_page(request, urllib.parse.unquote(sender_id), None)


@blueprint.get("/chat/<sender_id>/contact/<reference>")
async def past_contact(request: Request, sender_id: str, reference: str) -> HTTPResponse:
    """One of the customer's earlier contacts, read-only, beside the live chat."""
    return await _chat_page(request, urllib.parse.unquote(sender_id), reference)


async def _chat_page(request: Request, sender_id: str, reference: str | None) -> HTTPResponse:
    if not await owns(request, sender_id):
        return response.text("This conversation is not yours.", status=403)
    agent = await agent_record(request)
    client = request.app.ctx.services.redis
    cursor = await in_thread(inbox.cursor, client, agent.id)
    handoff = await in_thread(queue.record, client, sender_id)
    # The contact recorder may be a moment behind what was just said: wait for it (briefly)
    # so the transcript is whole; later messages arrive over the socket.
    await in_thread(events.wait_recorded, client, 2.0)
    view = await in_thread(_chat_view, request.app, sender_id, handoff)
    state = await _state(request, agent)
    action, csrf = chat_url(sender_id), csrf_field(request)
    who = customer_label(handoff, sender_id)
    if view.profile.get("Name"):
        who = view.profile["Name"]
    past = None
    if reference is not None:
        if reference not in {h["reference"] for h in view.history}:
            return response.text("That contact is not this customer's.", status=404)
        past = await in_thread(_past_turns, request.app, reference)
    right = _customer_panel(view, sender_id, reference)
    if past is not None:
        middle = f"""<div class="chat-head"><h2>Earlier contact {escape(reference)}</h2>
<a href="{escape(chat_url(sender_id))}" class="button">Back to the live chat</a></div>
<ol id="transcript" class="transcript" aria-label="Earlier transcript" tabindex="0">
{_bubbles(past)}</ol>"""
        return _workspace(request, agent, state, f"Contact {reference}", middle, right, cursor,
                          sender_id)
    options = "".join(f'<option value="{escape(code)}">{escape(name)}</option>'
                      for code, name in view.dispositions)
    skills = "".join(f'<option value="skill:{s}">{s} queue</option>' for s in queue.SKILLS)
    colleagues = "".join(
        f'<option value="agent:{escape(p.agent_id)}">{escape(p.agent_id)} ({p.load}/'
        f"{p.capacity})</option>" for p in await _colleagues_with_room(request))
    canned = "".join(f'<li role="option" id="canned-{escape(key)}" data-key="{escape(key)}" '
                     f'data-text="{escape(text)}"><b>/{escape(key)}</b> '
                     f'<span>{escape(text)}</span></li>'
                     for key, text in canned_answers().items())
    middle = f"""<div class="chat-head">
<h2 id="chat-title">{escape(who)} <small>{escape(handoff.channel if handoff else "")}</small></h2>
<div class="actions">
<details id="transfer-box"><summary aria-keyshortcuts="Alt+T">Transfer…</summary>
  <form method="post" action="{action}/transfer" id="transfer" class="popover">{csrf}
  <label for="transfer-to">Transfer to</label>
  <select name="to" id="transfer-to">{skills}{colleagues}</select>
  <button>Transfer</button></form></details>
<form method="post" action="{action}/return" id="return">{csrf}
  <button aria-keyshortcuts="Alt+B">Return to the bot</button></form>
<details id="close-box"><summary aria-keyshortcuts="Alt+C">Close…</summary>
  <form method="post" action="{action}/close" id="close" class="popover">{csrf}
  <label for="disposition">Disposition</label>
  <select name="disposition" id="disposition">{options}</select>
  <label class="check"><input type="checkbox" name="csat" value="1" checked> ask for a rating
  </label><button class="danger">Close the chat</button></form></details>
</div></div>
<ol id="transcript" class="transcript" aria-label="Transcript" aria-live="polite" tabindex="0">
{_bubbles(view.turns)}</ol>
<div class="composer">
<form method="post" action="{action}/reply" id="reply">{csrf}
  <label for="reply-text" class="sr-only">Reply to the customer</label>
  <textarea name="text" id="reply-text" maxlength="2000" rows="3"
    placeholder="Reply… (Enter sends, Shift+Enter for a new line, / for canned answers)"
    aria-describedby="reply-hint" aria-controls="canned-list" aria-autocomplete="list"
    ></textarea>
  <button class="primary">Send</button></form>
<ul id="canned-list" role="listbox" aria-label="Canned answers" hidden>{canned}</ul>
<p id="reply-hint" class="hint">Enter sends · Shift+Enter new line · <kbd>/</kbd> canned answers
· <kbd>?</kbd> shortcuts</p>
<form method="post" action="{action}/note" id="note" class="note-form">{csrf}
  <label for="note-text">Internal note <small>(never sent to the customer)</small></label>
  <input name="text" id="note-text" maxlength="2000" required>
  <button>Add note</button></form>
</div>"""
    return _workspace(request, agent, state, f"Conversation {who}", middle, right, cursor,
                      sender_id)


def _bubbles(turns: list[Bubble]) -> str:
    items = []
    for b in turns:
        label = {"customer": "Customer", "bot": "Assistant", "note": "Internal note",
                 "agent": b.who or "Agent"}.get(b.kind, "")
        head = f'<span class="author">{escape(label)}</span>' if label else ""
        delivery = ""
        if b.delivery:
            failed = b.delivery != "sent"
            delivery = (f'<span class="delivery{" delivery--failed" if failed else ""}">'
                        f"{escape(b.delivery)}</span>")
        items.append(f'<li class="bubble bubble--{escape(b.kind)}">{head}'
                     f'<span class="text">{escape(b.text)}</span>'
                     f'<span class="meta">{clock(b.at)}{delivery}</span></li>')
    return "".join(items)


def _customer_panel(view: ChatView, sender_id: str, reference: str | None) -> str:
    profile = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>"
                      for k, v in view.profile.items())
    verified = view.profile.get("Verified") == "yes"
    badge = ('<p class="badge badge--ok">Verified</p>' if verified
             else '<p class="badge">Not verified</p>')
    history = "".join(
        f'<tr{" aria-current=page" if h["reference"] == reference else ""}>'
        f"<td>{escape(h['started'])}</td><td>{escape(h['channel'])}</td>"
        f"<td>{escape(h['topic'])}</td><td>{escape(h['status'])}</td>"
        f'<td><a href="{escape(chat_url(sender_id))}/contact/{escape(h["reference"])}">'
        f"{escape(h['reference'])}</a></td></tr>" for h in view.history)
    complaints = "".join(
        f"<li><strong>{escape(c['reference'])}</strong> {escape(c['category'])} "
        f"<span class=\"status\">{escape(c['status'])}</span> due {escape(c['due'])}</li>"
        for c in view.complaints) or "<li>None open.</li>"
    return f"""<h2>Customer</h2>{badge}<dl id="profile">{profile}</dl>
<h2>Open complaints</h2><ul id="complaints" class="facts">{complaints}</ul>
<h2>Last two months</h2>
<table id="history"><caption class="sr-only">Contacts in the last two months</caption>
<thead><tr><th scope="col">Started</th><th scope="col">Channel</th><th scope="col">Topic</th>
<th scope="col">Status</th><th scope="col">Reference</th></tr></thead>
<tbody>{history}</tbody></table>"""


async def _colleagues_with_room(request: Request) -> list[presence.Presence]:
    """Other agents online now with a free seat: whom a chat can be transferred to."""
    everyone = await in_thread(presence.everyone, request.app.ctx.services.redis)
    timeout, now = request.app.ctx.settings.agent_timeout_seconds, time.time()
    return [p for p in everyone if p.agent_id != current_agent(request) and p.free
            and p.effective_status(now, timeout) == "online"]


def _chat_view(app: Any, sender_id: str, handoff: Handoff | None) -> ChatView:
    with app.ctx.db.reading() as session:
        contact = service.latest_contact(session, sender_id)
        turns, history, note, identity = [], [], None, None
        if contact is not None:
            note = service.reachability_note(contact.identity)  # opted out (STOP), undeliverable
            turns = _turns(service.contact_detail(session, contact.reference))
            identity = (contact.channel, contact.identity.external_id)
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
    complaints = []
    if handoff is not None and handoff.verified and handoff.customer_msisdn:
        complaints = _open_complaints(app, handoff.customer_msisdn)
    return ChatView(turns, history, dispositions, profile, complaints, identity)


def _open_complaints(app: Any, msisdn: str) -> list[dict[str, str]]:
    try:
        from accounts.complaints import open_complaints

        return [{"reference": c.reference, "category": c.category, "status": c.status,
                 "due": f"{c.due_at:%d %b %Y}"} for c in open_complaints(app.ctx.db, msisdn)]
    except Exception as exc:  # the panel shows what it can
        log.warning("console.complaints_unavailable", error=type(exc).__name__)
        return []


def _past_turns(app: Any, reference: str) -> list[Bubble]:
    with app.ctx.db.reading() as session:
        return _turns(service.contact_detail(session, reference))


# How the contact record's operations read in a transcript (system lines).
def _event_line(category: str, detail: str) -> str | None:
    if category == "handoff_requested":
        return f"Asked for a person ({detail.replace('_', ' ')})" if detail else \
            "Asked for a person"
    if category == "agent_pickup":
        return f"Taken by {detail}" if detail else "Taken by an agent"
    if category == "agent_release":
        if detail.startswith("transferred to "):
            return "Transferred to " + detail.removeprefix("transferred to ")
        if detail == "returned":
            return "Returned to the assistant"
        if detail.startswith("closed"):
            return "Closed" + (f" ({detail.removeprefix('closed ')})"
                               if detail != "closed" else "")
        if detail == "requeued":
            return "Back in the queue"
        return f"Released ({detail})" if detail else "Released"
    return None


def _turns(detail: Any) -> list[Bubble]:
    """Touches and the operations that matter to an agent, in time order, as bubbles; an
    agent reply the channel did not deliver says so (the record's "Not delivered" touch)."""
    turns: list[Bubble] = []
    for t in detail.touches:
        if t.author == "system" and t.text.startswith("Not delivered"):
            reason = t.text.partition(")")[0].removeprefix("Not delivered (")
            for earlier in reversed(turns):
                if earlier.kind == "agent" and earlier.text[:40] in t.text:
                    earlier.delivery = f"not delivered ({reason})"
                    break
            else:
                turns.append(Bubble("system", t.text, t.at))
            continue
        kind = t.author if t.author in ("customer", "bot", "agent") else "system"
        who = getattr(detail.contact, "agent_id", None) or "" if kind == "agent" else ""
        turns.append(Bubble(kind, t.text, t.at, who, "sent" if kind == "agent" else ""))
    for op in detail.operations:
        if op.category == "agent_note":
            turns.append(Bubble("note", op.detail or "", op.at))
            continue
        line = _event_line(op.category, op.detail or "")
        if line:
            turns.append(Bubble("system", line, op.at))
    epoch = datetime.min
    turns.sort(key=lambda b: (b.at.replace(tzinfo=None) if b.at else epoch))
    return turns


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
    state = await _state(request, agent)
    today = await in_thread(service_today, request.app)
    skills = "".join(_skill_row(skill, s, today.get(skill)) for skill, s in state["skills"].items())
    agents = "".join(f"<tr><td>{escape(a['agent_id'])}</td><td>{escape(a['status'])}</td>"
                     f"<td>{_duration(a['status_seconds'])}</td>"
                     f"<td>{a['load']}/{a['capacity']}</td><td>{escape(', '.join(a['skills']))}"
                     f"</td><td>{a['seen_seconds']} s ago</td></tr>" for a in state["agents"])
    days = _report_days(request)
    built = await in_thread(_report, request.app, days)
    report = "\n".join(text_lines(built))
    charts = "".join(f'<img src="/console/supervisor/chart/{name}.png?days={days}" '
                     f'alt="{escape(title)}" class="chart">' for name, title in CHARTS.items())
    periods = " ".join(f'<a href="?days={n}">{label}</a>' for n, label in
                       ((1, "today"), (7, "7 days"), (30, "30 days")))
    breaches = _breach_summary(built)
    return response.html(page("Supervisor", f"""<div class="board">
<p class="targets">Service targets per skill: the first reply within its first target of
joining the queue, the next within its next target of the customer's message. Service level:
today's queued customers answered within the first target (abandons count as missed).</p>
<h2>Queues</h2><table id="skills"><thead><tr><th scope="col">Skill</th>
<th scope="col">Waiting</th><th scope="col">Longest wait</th>
<th scope="col">Targets (first / next)</th><th scope="col">Waiting over target</th>
<th scope="col">Unanswered over target</th><th scope="col">Service level today</th>
</tr></thead><tbody>{skills}</tbody></table>
<h2>Agents</h2><table id="agents"><thead><tr><th scope="col">Agent</th><th scope="col">Status
</th><th scope="col">Time in status</th><th scope="col">Load</th><th scope="col">Skills</th>
<th scope="col">Last seen</th></tr></thead><tbody>{agents}</tbody></table>
<p class="updated">As of {time.strftime('%H:%M:%S')}</p>
{await _locked_logins(request)}
<h2>Service report, last {days} day(s)</h2><p>{periods}</p>{breaches}
<div id="charts">{charts}</div>
<pre id="report" tabindex="0" aria-label="Service report">{escape(report)}</pre>
</div>""", data='data-page="supervisor"',
                              nav='<a href="/console/">Queue</a>'))


def _skill_row(skill: str, live: dict[str, Any], today: dict[str, Any] | None) -> str:
    """One queue on the board (console.js redraws the same cells from each snapshot)."""
    return (f"<tr><td>{escape(skill)}</td><td>{live['waiting']}</td>"
            f"<td>{_duration(live['longest_wait'])}</td>"
            f"<td>{live['first_target']:g} s / {live['next_target']:g} s</td>"
            f"<td>{live['over_first']}</td><td>{live['over_next']}</td>"
            f"<td>{_level(today)}</td></tr>")


def _level(today: dict[str, Any] | None) -> str:
    """"92% of 25" (on time of queued today), or a dash when nobody queued."""
    if not today or today["service_level"] is None:
        return "-"
    offered = today["responses"] + today["unanswered"]
    return f"{100 * today['service_level']:.0f}% of {offered}"


def _duration(seconds: int) -> str:
    return f"{seconds // 60} min {seconds % 60} s" if seconds < 3600 else \
        f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _breach_summary(report: Report) -> str:
    """Response-target breaches in the report's period (operations/reports.py)."""
    breaches = report.response_breaches
    return (f'<p id="breaches">Service-target breaches: <strong>{breaches.first}</strong> of '
            f"{breaches.first_total} first replies, <strong>{breaches.next}</strong> of "
            f"{breaches.next_total} next replies.</p>")


async def _locked_logins(request: Request) -> str:
    """Agent names and addresses locked out after wrong passwords, each with an unlock button."""
    rows = "".join(
        f"<tr><td>{escape(lock.kind)}</td><td>{escape(lock.name)}</td>"
        f"<td>{max(round(lock.seconds_left / 60), 1)} min</td>"
        f'<td><form method="post" action="/console/supervisor/unlock">{csrf_field(request)}'
        f'<input type="hidden" name="subject" value="{escape(lock.subject)}">'
        f"<button>Unlock</button></form></td></tr>"
        for lock in await in_thread(logins.locks, request.app.ctx.services.redis))
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
    if await in_thread(logins.unlock, request.app.ctx.services.redis, subject):
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
    """``?days=`` between 1 and 90; anything else (not ASCII digits: "²" is a digit to
    ``isdigit`` but not to ``int``; thousands of digits) is the default week."""
    given = request.args.get("days") or "7"
    if not re.fullmatch(r"[0-9]{1,3}", given):
        return 7
    return min(max(int(given), 1), 90)


REPORT_SECONDS = 30  # the supervisor page and its three charts share one report this long


def _report(app: Any, days: int) -> Report:
    """The last ``days`` days' report, built once for the page and its charts (not four times
    per page view)."""
    cache = app.ctx.__dict__.setdefault("supervisor_reports", {})
    built_at, report = cache.get(days, (0.0, None))
    if report is None or time.monotonic() - built_at > REPORT_SECONDS:
        until = datetime.utcnow()
        with app.ctx.db.reading() as session:
            report = build_report(session, until - timedelta(days=days), until, None,
                                  app.ctx.settings.service_target)
        cache[days] = (time.monotonic(), report)
    return report


async def owns(request: Request, sender_id: str) -> bool:
    holder = await in_thread(queue.owner, request.app.ctx.services.redis, sender_id)
    return holder == f"agent:{current_agent(request)}"
