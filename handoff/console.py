"""The agent console (first part): login, logout and the live queue, under ``/console``.

Served by the console process (for now the contacts process, contacts/app.py). Sessions are
signed cookies (HMAC with the deployment's secret key, HttpOnly, SameSite=Strict, 12 hours);
every form carries a CSRF token (double-submit: a cookie and the form field must match); every
route but the login page needs a logged-in agent. All customer text is HTML-escaped.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import json
import secrets
import time
import urllib.parse
from typing import Any

from sanic import Blueprint, Request, response
from sanic.response import HTTPResponse

from bot.channels.outbound import send_to_customer
from contacts import events, service
from handoff import agents, queue, tracker
from handoff.models import Agent
from switchboard.keys import secret_key
from switchboard.redis_client import redis_client

blueprint = Blueprint("console", url_prefix="/console")

SESSION_COOKIE, CSRF_COOKIE = "sb_session", "sb_csrf"
SESSION_SECONDS = 12 * 3600


def _sign(settings, payload: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()
    mac = hmac.new(secret_key(settings).encode(), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def _unsign(settings, cookie: str | None) -> dict[str, Any] | None:
    if not cookie or "." not in cookie:
        return None
    body, mac = cookie.rsplit(".", 1)
    expected = hmac.new(secret_key(settings).encode(), body.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(body.encode()))
    except ValueError:
        return None
    return payload if payload.get("exp", 0) > time.time() else None


def _session(request: Request) -> dict[str, Any]:
    return _unsign(request.app.ctx.settings, request.cookies.get(SESSION_COOKIE)) or {}


def current_agent(request: Request) -> str | None:
    return _session(request).get("agent")


def _csrf_field(request: Request) -> str:
    return f'<input type="hidden" name="csrf" value="{_e(_session(request).get("csrf", ""))}">'


def _csrf_ok(request: Request) -> bool:
    expected = _session(request).get("csrf") or ""
    return bool(expected) and hmac.compare_digest(request.form.get("csrf") or "", expected)


@blueprint.middleware("request")
async def require_login(request: Request) -> HTTPResponse | None:
    if request.path.rstrip("/") == "/console/login":
        return None
    if current_agent(request) is None:
        if request.path.startswith("/console/api/"):
            return response.json({"error": "log in first"}, status=401)
        return response.redirect("/console/login")
    return None


@blueprint.get("/login")
async def login_page(request: Request) -> HTTPResponse:
    return _login_form(error=None)


@blueprint.post("/login")
async def login(request: Request) -> HTTPResponse:
    form_token = request.form.get("csrf") or ""
    cookie_token = request.cookies.get(CSRF_COOKIE) or ""
    if not cookie_token or not hmac.compare_digest(form_token, cookie_token):
        return response.text("The form expired: reload the login page.", status=403)
    agent_id = (request.form.get("agent") or "").strip().lower()
    password = request.form.get("password") or ""
    db = request.app.ctx.db

    def check() -> bool:
        with db.reading() as session:
            return agents.check_login(session, agent_id, password) is not None

    if not await asyncio.get_running_loop().run_in_executor(None, check):
        return _login_form(error="Wrong name or password.", status=401)
    settings = request.app.ctx.settings
    reply = response.redirect("/console/")
    reply.cookies[SESSION_COOKIE] = _sign(settings, {
        "agent": agent_id, "csrf": secrets.token_urlsafe(24),
        "exp": time.time() + SESSION_SECONDS})
    _protect(reply, SESSION_COOKIE)
    return reply


@blueprint.post("/take")
async def take_next(request: Request) -> HTTPResponse:
    """"Take next": the oldest highest-priority conversation of the agent's skills."""
    if not _csrf_ok(request):
        return response.text("The form expired: reload the page.", status=403)
    agent = await _agent_record(request)
    taken = await _in_thread(queue.claim_next, redis_client(), agent.id, agent.skill_list,
                             agent.capacity)
    if taken is None:
        return response.redirect("/console/?empty=1")
    return response.redirect(f"/console/chat/{urllib.parse.quote(taken, safe='')}")


@blueprint.get("/chat/<sender_id>")
async def chat(request: Request, sender_id: str) -> HTTPResponse:
    sender_id = urllib.parse.unquote(sender_id)
    if not await _owns(request, sender_id):
        return response.text("This conversation is not yours.", status=403)
    turns = await _in_thread(_transcript, request.app.ctx.db, sender_id)
    dispositions = await _in_thread(_dispositions, request.app.ctx.db)
    options = "".join(f'<option value="{_e(code)}">{_e(name)}</option>'
                      for code, name in dispositions)
    skills = "".join(f'<option value="{skill}">{skill}</option>' for skill in queue.SKILLS)
    lines = "".join(f'<li class="{_e(author)}"><b>{_e(author)}</b>: {_e(text)}</li>'
                    for author, text in turns)
    action = f"/console/chat/{urllib.parse.quote(sender_id, safe='')}"
    return response.html(_page("Conversation", f"""
<ol id="transcript">{lines}</ol>
<form method="post" action="{action}/reply">{_csrf_field(request)}
  <textarea name="text" required maxlength="2000"></textarea><button>Send</button></form>
<form method="post" action="{action}/return">{_csrf_field(request)}
  <button>Return to the bot</button></form>
<form method="post" action="{action}/transfer">{_csrf_field(request)}
  <select name="skill">{skills}</select><button>Transfer</button></form>
<form method="post" action="{action}/close">{_csrf_field(request)}
  <select name="disposition">{options}</select><button>Close</button></form>"""))


@blueprint.post("/chat/<sender_id>/reply")
async def reply(request: Request, sender_id: str) -> HTTPResponse:
    sender_id = urllib.parse.unquote(sender_id)
    if not _csrf_ok(request):
        return response.text("The form expired: reload the page.", status=403)
    if not await _owns(request, sender_id):
        return response.text("This conversation is not yours.", status=403)
    text = (request.form.get("text") or "").strip()
    if not text or len(text) > 2000:
        return response.text("Write 1 to 2000 characters.", status=400)
    await send_to_customer(sender_id, text, settings=request.app.ctx.settings)
    events.publish(redis_client(), {"event": "agent", "sender_id": sender_id, "text": text,
                                    "agent": current_agent(request), "timestamp": time.time()})
    return response.redirect(f"/console/chat/{urllib.parse.quote(sender_id, safe='')}")


@blueprint.post("/chat/<sender_id>/return")
async def return_to_bot(request: Request, sender_id: str) -> HTTPResponse:
    sender_id = urllib.parse.unquote(sender_id)
    if not _csrf_ok(request):
        return response.text("The form expired: reload the page.", status=403)
    if not await _owns(request, sender_id):
        return response.text("This conversation is not yours.", status=403)
    await _in_thread(queue.return_to_bot, redis_client(), current_agent(request), sender_id)
    await tracker.resume(sender_id, request.app.ctx.settings)
    await send_to_customer(sender_id, BACK_TO_BOT, settings=request.app.ctx.settings)
    client, now = redis_client(), time.time()
    events.publish(client, {"event": "handback", "sender_id": sender_id, "timestamp": now})
    events.publish(client, {"event": "bot", "sender_id": sender_id, "text": BACK_TO_BOT,
                            "timestamp": now})
    return response.redirect("/console/")


@blueprint.post("/chat/<sender_id>/close")
async def close(request: Request, sender_id: str) -> HTTPResponse:
    """End the contact with a disposition code; the customer's next message starts a new one
    with the bot."""
    sender_id = urllib.parse.unquote(sender_id)
    if not _csrf_ok(request):
        return response.text("The form expired: reload the page.", status=403)
    if not await _owns(request, sender_id):
        return response.text("This conversation is not yours.", status=403)
    disposition = request.form.get("disposition") or ""
    if disposition not in {code for code, _ in await _in_thread(_dispositions,
                                                                request.app.ctx.db)}:
        return response.text("Choose a disposition code from the list.", status=400)
    await _in_thread(queue.return_to_bot, redis_client(), current_agent(request), sender_id)
    await tracker.resume(sender_id, request.app.ctx.settings)
    await send_to_customer(sender_id, CLOSED, settings=request.app.ctx.settings)
    client, now = redis_client(), time.time()
    events.publish(client, {"event": "bot", "sender_id": sender_id, "text": CLOSED,
                            "timestamp": now})
    events.publish(client, {"event": "close", "sender_id": sender_id, "timestamp": now,
                            "disposition": disposition})
    return response.redirect("/console/")


@blueprint.post("/chat/<sender_id>/transfer")
async def transfer(request: Request, sender_id: str) -> HTTPResponse:
    """Hand the chat to another skill's queue (at its front)."""
    sender_id = urllib.parse.unquote(sender_id)
    if not _csrf_ok(request):
        return response.text("The form expired: reload the page.", status=403)
    skill = request.form.get("skill") or ""
    if skill not in queue.SKILLS:
        return response.text("Choose a skill from the list.", status=400)
    if not await _in_thread(queue.transfer, redis_client(), current_agent(request), sender_id,
                            skill):
        return response.text("This conversation is not yours.", status=403)
    await send_to_customer(sender_id, TRANSFERRED, settings=request.app.ctx.settings)
    events.publish(redis_client(), {"event": "bot", "sender_id": sender_id,
                                    "text": TRANSFERRED, "timestamp": time.time()})
    return response.redirect("/console/")


def _dispositions(db) -> list[tuple[str, str]]:
    with db.reading() as session:
        rows = service.contact_configuration(session)["disposition_codes"]
    return [(row["code"], row["name"]) for row in rows]


BACK_TO_BOT = "You're back with the Kestrel Mobile assistant. What else can I do for you?"
TRANSFERRED = "I'm passing you to a colleague who can help with this; please stay with us."
CLOSED = "Thanks for talking to us. This conversation is now closed; write again any time."


async def _owns(request: Request, sender_id: str) -> bool:
    owner = await _in_thread(queue.owner, redis_client(), sender_id)
    return owner == f"agent:{current_agent(request)}"


async def _agent_record(request: Request):
    db, agent_id = request.app.ctx.db, current_agent(request)

    def read():
        with db.reading() as session:
            return session.get(Agent, agent_id)

    return await _in_thread(read)


def _transcript(db, sender_id: str) -> list[tuple[str, str]]:
    """The conversation's latest contact, every turn (bot, customer, agent), in order."""
    with db.reading() as session:
        contact = service.latest_contact(session, sender_id)
        if contact is None:
            return []
        detail = service.contact_detail(session, contact.reference)
        return [(t.author, t.text) for t in detail.touches]


async def _in_thread(function, *args):
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


@blueprint.post("/logout")
async def logout(request: Request) -> HTTPResponse:
    reply = response.redirect("/console/login")
    del reply.cookies[SESSION_COOKIE]
    return reply


@blueprint.get("/api/queue")
async def queue_api(request: Request) -> HTTPResponse:
    return response.json({"queue": await _queue_rows(), "agent": current_agent(request)})


@blueprint.get("/")
async def home(request: Request) -> HTTPResponse:
    rows = await _queue_rows()
    body = "".join(
        f"<tr><td>{_e(r['skill'])}</td><td>{r['priority']}</td><td>{_e(r['channel'])}</td>"
        f"<td>{_e(r['reason'])}</td><td>{r['waiting_seconds'] // 60} min</td>"
        f"<td>{_e(r['last_customer_text'])}</td></tr>" for r in rows)
    agent = _e(current_agent(request) or "")
    return response.html(_page("Queue", f"""
<p>Logged in as <strong>{agent}</strong>.</p>
<form method="post" action="/console/logout"><button>Log out</button></form>
<form method="post" action="/console/take">{_csrf_field(request)}<button>Take next</button></form>
<table id="queue"><thead><tr><th>Skill</th><th>Priority</th><th>Channel</th><th>Reason</th>
<th>Waiting</th><th>Last message</th></tr></thead><tbody>{body}</tbody></table>"""))


async def _queue_rows() -> list[dict[str, Any]]:
    def read() -> list[dict[str, Any]]:
        client, now, rows = redis_client(), time.time(), []
        for skill in queue.SKILLS:
            for sender_id in queue.waiting(client, skill):
                handoff = queue.record(client, sender_id)
                if handoff is None:
                    continue
                said = [t["text"] for t in handoff.transcript if t.get("from") == "customer"]
                rows.append({"sender_id": sender_id, "skill": skill,
                             "priority": handoff.priority, "channel": handoff.channel,
                             "reason": handoff.reason,
                             "waiting_seconds": int(now - handoff.enqueued_at),
                             "last_customer_text": said[-1] if said else ""})
        return rows

    return await asyncio.get_running_loop().run_in_executor(None, read)


def _login_form(error: str | None, status: int = 200) -> HTTPResponse:
    token = secrets.token_urlsafe(24)
    message = f'<p class="error">{_e(error)}</p>' if error else ""
    reply = response.html(_page("Log in", f"""{message}
<form method="post" action="/console/login">
  <input type="hidden" name="csrf" value="{token}">
  <label>Agent <input name="agent" autocomplete="username" required></label>
  <label>Password <input name="password" type="password" autocomplete="current-password"
    required></label>
  <button>Log in</button>
</form>"""), status=status)
    reply.cookies[CSRF_COOKIE] = token
    _protect(reply, CSRF_COOKIE)
    return reply


def _protect(reply: HTTPResponse, name: str) -> None:
    reply.cookies[name]["httponly"] = True
    reply.cookies[name]["samesite"] = "Strict"
    reply.cookies[name]["path"] = "/console"


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_e(title)} — "
            f"Switchboard console</title></head><body><h1>{_e(title)}</h1>{body}</body></html>")


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)
