"""Who is at the console: server-side sessions (handoff/logins.py) named by a random id in a
signed, HttpOnly, SameSite=Strict cookie (``Secure`` behind HTTPS), CSRF tokens (double-submit
on the login form, bound to the session on every other form), login throttling, a login
required on every route but the login page, and security headers on every console response."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from sanic import Request, response
from sanic.response import HTTPResponse

from handoff import agents, logins, presence
from handoff.console import blueprint
from handoff.console.html import SECURITY_HEADERS, escape, page
from handoff.models import Agent
from handoff.worker import go_offline
from switchboard.keys import secret_key
from switchboard.log import get_logger
from switchboard.services import Services
from switchboard.settings import Settings

SESSION_COOKIE, CSRF_COOKIE = "sb_session", "sb_csrf"
T = TypeVar("T")
log = get_logger(__name__)


def _session(request: Request) -> logins.ConsoleSession | None:
    """The session the login middleware found for this request (None on open routes)."""
    return getattr(request.ctx, "console_session", None)


def current_agent(request: Request) -> str | None:
    session = _session(request)
    return session.agent if session else None


def csrf_token(request: Request) -> str:
    session = _session(request)
    return session.csrf if session else ""


def csrf_field(request: Request) -> str:
    return f'<input type="hidden" name="csrf" value="{escape(csrf_token(request))}">'


def same_text(given: str, expected: str) -> bool:
    """A constant-time comparison that takes any text (a form may carry non-ASCII)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"),
                               expected.encode("utf-8", "surrogateescape"))


def csrf_ok(request: Request) -> bool:
    expected = csrf_token(request)
    return bool(expected) and same_text(request.form.get("csrf") or "", expected)


async def in_thread(function: Callable[..., T], *args: Any) -> T:
    """Blocking work (database, Redis) off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


async def agent_record(request: Request) -> Agent:
    db, agent_id = request.app.ctx.db, current_agent(request)

    def read() -> Agent:
        with db.reading() as session:
            return session.get(Agent, agent_id)

    return await in_thread(read)


def _idle_seconds(settings: Settings) -> float:
    return settings.console_idle_minutes * 60


# The cookie is "<session id>.<HMAC of it with the secret key>": a forged or altered cookie is
# refused without asking Redis, and rotating the secret key ends every session.
def _signed(settings: Settings, token: str) -> str:
    mac = hmac.new(secret_key(settings).encode(), token.encode(), hashlib.sha256).hexdigest()
    return f"{token}.{mac}"


def _token(settings: Settings, cookie: str | None) -> str | None:
    """The session id inside a cookie whose signature is right (else None)."""
    if not cookie or not cookie.isascii():  # compare_digest takes ASCII strings only
        return None
    token = cookie.rpartition(".")[0]
    return token if token and hmac.compare_digest(_signed(settings, token), cookie) else None


def _live_session(services: Services, cookie: str | None) -> logins.ConsoleSession | None:
    token = _token(services.settings, cookie)
    if token is None:
        return None
    return logins.session_of(services.redis, token, _idle_seconds(services.settings))


def still_logged_in(request: Request) -> bool:
    """Whether the session this request began with is still live (an open socket asks on
    every heartbeat: logout, a password change or the idle timeout end it there too)."""
    return _live_session(request.app.ctx.services,
                         request.cookies.get(SESSION_COOKIE)) is not None


def _end_session(services: Services, cookie: str | None) -> None:
    token = _token(services.settings, cookie)
    if token:
        logins.end_session(services.redis, token)


@blueprint.middleware("request")
async def require_login(request: Request) -> HTTPResponse | None:
    """Every route but the login page and the static files needs a live session: API and live
    socket answer 401, pages redirect to the login page."""
    request.ctx.console_session = None
    if request.path.rstrip("/") == "/console/login" or request.path.startswith(
            "/console/static/"):
        return None
    request.ctx.console_session = await in_thread(_live_session, request.app.ctx.services,
                                                  request.cookies.get(SESSION_COOKIE))
    if request.ctx.console_session is None:
        if request.path.startswith(("/console/api/", "/console/live")):
            return response.json({"error": "log in first"}, status=401)
        return response.redirect("/console/login")
    return None


@blueprint.middleware("response")
async def security_headers(request: Request, reply: HTTPResponse) -> None:
    """CSP (no inline script or style, no framing, no plugins), no sniffing, no referrer: on
    pages, API, static files, redirects and errors alike."""
    reply.headers.update(SECURITY_HEADERS)


@blueprint.get("/login")
async def login_page(request: Request) -> HTTPResponse:
    return login_form(request.app.ctx.settings, error=None)


def _client_address(request: Request) -> str:
    """The caller's address: the proxy's forwarded one only if Sanic is told to trust proxies
    (PROXIES_COUNT / REAL_IP_HEADER), else the socket's peer."""
    return request.remote_addr or request.ip


@blueprint.post("/login")
async def login(request: Request) -> HTTPResponse:
    """Check the password under the throttle: a locked name or address is refused (429) even
    with the right password; a wrong one is answered after a growing delay."""
    settings = request.app.ctx.settings
    form_token = request.form.get("csrf") or ""
    cookie_token = request.cookies.get(CSRF_COOKIE) or ""
    if not cookie_token or not same_text(form_token, cookie_token):
        return response.text("The form expired: reload the login page.", status=403)
    agent_id = (request.form.get("agent") or "").strip().lower()
    named = agent_id if agents.AGENT_ID.fullmatch(agent_id) else None
    address, attempt = _client_address(request), logins.new_attempt()
    client = request.app.ctx.services.redis
    lock = await in_thread(logins.begin, client, settings, named, address, attempt)
    if lock is not None:
        if lock.new:  # one attempt too many (parallel guesses): locked by this one
            await _log_lock(settings, request.app.ctx.db, lock)
        return _locked(settings, lock)
    agent = await in_thread(_check_login, request.app.ctx.db, agent_id,
                            request.form.get("password") or "")
    if agent is None:
        return await _wrong_password(settings, request.app.ctx.db, client, named, address,
                                     attempt)
    await in_thread(logins.succeeded, client, agent.id, address, attempt)
    await in_thread(_end_session, request.app.ctx.services,
                    request.cookies.get(SESSION_COOKIE))  # a fresh id
    await in_thread(presence.set_status, client, agent.id, "online", agent.skill_list,
                    agent.capacity)
    token = await in_thread(logins.open_session, client, agent.id, _idle_seconds(settings))
    return session_reply(settings, await in_thread(_signed, settings, token))


def _check_login(db, agent_id: str, password: str) -> Agent | None:
    with db.reading() as session:
        return agents.check_login(session, agent_id, password)


async def _wrong_password(settings: Settings, db, client, agent_id: str | None,
                          address: str, attempt: str) -> HTTPResponse:
    outcome = await in_thread(logins.failed, client, settings, agent_id, address, attempt)
    if outcome.lock is not None:
        await _log_lock(settings, db, outcome.lock)
        return _locked(settings, outcome.lock)
    log.info("console.login_failed", failures=outcome.level)  # no name: it may be a password
    await asyncio.sleep(logins.failure_delay(outcome.level))  # not the event loop's time
    return login_form(settings, error="Wrong name or password.", status=401)


async def _log_lock(settings: Settings, db, lock: logins.Lock) -> None:
    """Log a new lock with the address or the agent's id; a typed name no agent has is left out
    (it may be a password typed in the wrong field)."""
    def known() -> bool:
        with db.reading() as session:
            return session.get(Agent, lock.name) is not None

    who = lock.name if lock.kind == "address" or await in_thread(known) else "(not an agent)"
    log.warning("console.login_locked", locked=lock.kind, who=who,
                minutes=settings.console_login_lock_minutes)


def _locked(settings: Settings, lock: logins.Lock) -> HTTPResponse:
    minutes = max(round(lock.seconds_left / 60), 1)
    whose = "this agent" if lock.kind == "agent" else "your address"
    reply = login_form(settings, status=429, error=(
        f"Too many wrong passwords for {whose}: logins are locked for {minutes} more minute(s)."
        " A supervisor can unlock it sooner."))
    reply.headers["Retry-After"] = str(lock.seconds_left)
    return reply


def session_reply(settings: Settings, cookie: str) -> HTTPResponse:
    """The answer to a right password: to the queue, with the session's (signed) cookie."""
    reply = response.redirect("/console/")
    reply.cookies[SESSION_COOKIE] = cookie
    _protect(settings, reply, SESSION_COOKIE)
    return reply


@blueprint.post("/logout")
async def logout(request: Request) -> HTTPResponse:
    """The session ends (its cookie is refused from now on) and the agent goes offline: their
    chats wait again at the front of the queue."""
    if not csrf_ok(request):
        return response.text("The form expired: reload the page.", status=403)
    settings = request.app.ctx.settings
    await in_thread(_end_session, request.app.ctx.services, request.cookies.get(SESSION_COOKIE))
    await go_offline(settings, current_agent(request))
    reply = response.redirect("/console/login")
    reply.cookies[SESSION_COOKIE] = ""  # expired at once, on the path it was set for
    reply.cookies[SESSION_COOKIE]["max-age"] = 0
    _protect(settings, reply, SESSION_COOKIE)
    return reply


def login_form(settings: Settings, error: str | None, status: int = 200) -> HTTPResponse:
    """The login page, with a fresh double-submit CSRF token in the form and a cookie."""
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
    _protect(settings, reply, CSRF_COOKIE)
    return reply


def _protect(settings: Settings, reply: HTTPResponse, name: str) -> None:
    reply.cookies[name]["httponly"] = True
    reply.cookies[name]["samesite"] = "Strict"
    reply.cookies[name]["path"] = "/console"
    if settings.secure_cookies:  # behind HTTPS: never sent over plain HTTP
        reply.cookies[name]["secure"] = True
