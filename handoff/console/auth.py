"""Who is at the console: signed session cookies (HMAC with the deployment's secret key,
HttpOnly, SameSite=Strict, 12 hours), CSRF tokens (double-submit on the login form, bound to the
session on every other form), and a login required on every route but the login page."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sanic import Request, response
from sanic.response import HTTPResponse

from handoff import agents, presence
from handoff.console import blueprint
from handoff.console.html import escape, page
from handoff.models import Agent
from handoff.worker import go_offline
from switchboard.keys import secret_key
from switchboard.redis_client import redis_client

SESSION_COOKIE, CSRF_COOKIE = "sb_session", "sb_csrf"
SESSION_SECONDS = 12 * 3600
T = TypeVar("T")


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


def csrf_token(request: Request) -> str:
    return _session(request).get("csrf", "")


def csrf_field(request: Request) -> str:
    return f'<input type="hidden" name="csrf" value="{escape(csrf_token(request))}">'


def csrf_ok(request: Request) -> bool:
    expected = _session(request).get("csrf") or ""
    return bool(expected) and hmac.compare_digest(request.form.get("csrf") or "", expected)


async def in_thread(function: Callable[..., T], *args: Any) -> T:
    """Blocking work (database, Redis) off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


async def agent_record(request: Request) -> Agent:
    db, agent_id = request.app.ctx.db, current_agent(request)

    def read() -> Agent:
        with db.reading() as session:
            return session.get(Agent, agent_id)

    return await in_thread(read)


@blueprint.middleware("request")
async def require_login(request: Request) -> HTTPResponse | None:
    if request.path.rstrip("/") == "/console/login" or request.path.startswith(
            "/console/static/"):
        return None
    if current_agent(request) is None:
        if request.path.startswith(("/console/api/", "/console/live")):
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

    def check() -> Agent | None:
        with db.reading() as session:
            return agents.check_login(session, agent_id, password)

    agent = await in_thread(check)
    if agent is None:
        return _login_form(error="Wrong name or password.", status=401)
    await in_thread(presence.set_status, redis_client(), agent.id, "online", agent.skill_list,
                    agent.capacity)
    reply = response.redirect("/console/")
    reply.cookies[SESSION_COOKIE] = _sign(request.app.ctx.settings, {
        "agent": agent.id, "csrf": secrets.token_urlsafe(24),
        "exp": time.time() + SESSION_SECONDS})
    _protect(reply, SESSION_COOKIE)
    return reply


@blueprint.post("/logout")
async def logout(request: Request) -> HTTPResponse:
    """Offline: the agent's chats wait again at the front of the queue."""
    if not csrf_ok(request):
        return response.text("The form expired: reload the page.", status=403)
    await go_offline(request.app.ctx.settings, current_agent(request))
    reply = response.redirect("/console/login")
    reply.cookies[SESSION_COOKIE] = ""  # expired at once, on the path it was set for
    reply.cookies[SESSION_COOKIE]["max-age"] = 0
    _protect(reply, SESSION_COOKIE)
    return reply


def _login_form(error: str | None, status: int = 200) -> HTTPResponse:
    token = secrets.token_urlsafe(24)
    message = f'<p class="error">{escape(error)}</p>' if error else ""
    reply = response.html(page("Log in", f"""{message}
<form method="post" action="/console/login" class="login">
  <input type="hidden" name="csrf" value="{token}">
  <label>Agent <input name="agent" autocomplete="username" required></label>
  <label>Password <input name="password" type="password" autocomplete="current-password"
    required></label>
  <button>Log in</button>
</form>""", live=False), status=status)
    reply.cookies[CSRF_COOKIE] = token
    _protect(reply, CSRF_COOKIE)
    return reply


def _protect(reply: HTTPResponse, name: str) -> None:
    reply.cookies[name]["httponly"] = True
    reply.cookies[name]["samesite"] = "Strict"
    reply.cookies[name]["path"] = "/console"
