"""Console accounts under attack (issue 12, item 4), on the running stack's console port:
password guessing (per agent and per address, in parallel too), sessions that outlive logout,
a password change or idleness, cookies without ``Secure`` behind HTTPS, and framing or injected
script (CSP). Each attack below worked before and is refused now."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from handoff import agents, logins
from handoff.console import auth
from handoff.worker import go_offline
from switchboard.db import database
from switchboard.settings import PROJECT_ROOT, Settings
from tests.test_console import CHROMIUM, browser, csrf_of, fetch, log_in

LOOPBACK = "address:127.0.0.1"  # every test's logins come from here


@pytest.fixture(autouse=True)
def loopback_unlocked(assistant) -> Iterator[None]:
    """Failures counted against 127.0.0.1 are forgotten before and after each test: other
    tests (and the demo agents) log in from the same address."""
    logins.unlock(assistant.redis(), LOOPBACK)
    yield
    logins.unlock(assistant.redis(), LOOPBACK)


@pytest.fixture
def new_agent(assistant, console) -> Iterator[tuple[str, str]]:
    """An agent of this test's own (locking it out harms no other test); offline, unlocked
    and without sessions afterwards."""
    agent_id, password = f"sec-{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
    with database(assistant.settings).transaction() as session:
        agents.add_agent(session, agent_id, display_name="Security test", password=password,
                         skills=["complaints"], capacity=1)
    yield agent_id, password
    client = assistant.redis()
    logins.unlock(client, f"agent:{agent_id}")
    logins.revoke_all(client, agent_id)
    asyncio.run(go_offline(assistant.settings, agent_id))


def attempt(console: str, agent: str, password: str):
    """One login through the form: (status, headers, page, opener)."""
    opener, _ = browser()
    _, _, page = fetch(opener, f"{console}/login")
    status, headers, body = fetch(opener, f"{console}/login",
                                  {"csrf": csrf_of(page), "agent": agent, "password": password})
    return status, headers, body, opener


def session_cookie(opener) -> str:
    jar = next(h.cookiejar for h in opener.handlers if hasattr(h, "cookiejar"))
    return next(c.value for c in jar if c.name == "sb_session")


def replay(console: str, cookie: str, path: str):
    """A request carrying a copied session cookie (as a thief would send it)."""
    opener, _ = browser()
    opener.addheaders = [("Cookie", f"sb_session={cookie}")]
    return fetch(opener, f"{console}{path}")[:2]


def socket_status(console: str, cookie: str) -> int:
    """The live socket's answer to a cookie: 101 if it opens, else the refusal's status."""
    import websockets
    from websockets.exceptions import InvalidStatusCode

    async def connect() -> int:
        try:
            async with websockets.connect(console.replace("http", "ws") + "/live",
                                          extra_headers={"Cookie": f"sb_session={cookie}"}):
                return 101
        except InvalidStatusCode as refused:
            return refused.status_code

    return asyncio.run(connect())


def supervisor_page(console: str, sam) -> str:
    status, _, page = fetch(sam, f"{console}/supervisor")
    assert status == 200
    return page


def test_guessing_one_agents_password_locks_the_agent_even_for_the_right_one(assistant,
                                                                             console,
                                                                             new_agent):
    agent_id, password = new_agent
    most = assistant.settings.console_login_max_failures
    started = time.monotonic()
    for _ in range(most - 1):
        assert attempt(console, agent_id, "guess-314159")[0] == 401
    # 0.25 + 0.5 + 1 + 2 s: each wrong answer waits twice as long as the one before
    assert time.monotonic() - started >= sum(logins.failure_delay(n) for n in range(1, most))
    assert attempt(console, agent_id, "guess-271828")[0] == 429  # the limit: locked
    status, headers, page, _ = attempt(console, agent_id, password)
    assert status == 429 and "locked" in page and int(headers["Retry-After"]) > 60
    assert "sb_session" not in str(headers.get_all("Set-Cookie"))

    sam, _, _ = log_in(console, "sam", "kestrel-sam-demo")
    page = supervisor_page(console, sam)
    locks = page.split('id="locks"')[1]
    assert f"<td>agent</td><td>{agent_id}</td>" in locks
    assert fetch(sam, f"{console}/supervisor/unlock",
                 {"csrf": csrf_of(page), "subject": f"agent:{agent_id}"})[0] == 302
    assert agent_id not in supervisor_page(console, sam).split('id="locks"')[1]
    assert attempt(console, agent_id, password)[0] == 302  # unlocked: in again

    logged = (assistant.log_dir / "console.log").read_text()
    assert any(agent_id in line for line in logged.splitlines()
               if "console.login_locked" in line)
    assert "guess-314159" not in logged and password not in logged  # no password logged


def test_guesses_sent_in_parallel_cannot_pass_the_limit(assistant, console, new_agent):
    agent_id, _ = new_agent
    most = assistant.settings.console_login_max_failures
    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(lambda n: attempt(console, agent_id, f"guess-{n}")[0],
                                 range(3 * most)))
    # each attempt takes its place before its password is checked: at most `most` are
    # checked, all the others refused unchecked
    assert statuses.count(401) <= most and set(statuses) == {401, 429}
    assert f"agent:{agent_id}" in [lock.subject for lock in logins.locks(assistant.redis())]


def test_spraying_guesses_over_many_names_locks_the_address(assistant, console, new_agent):
    agent_id, password = new_agent
    sam, _, _ = log_in(console, "sam", "kestrel-sam-demo")  # before the address is locked
    limit = assistant.settings.console_login_max_failures * logins.ADDRESS_FACTOR
    names = [f"spray-{n}-{uuid.uuid4().hex[:6]}" for n in range(limit + 2)]
    with ThreadPoolExecutor(8) as pool:  # one guess per name: no name reaches its own limit
        statuses = list(pool.map(lambda name: attempt(console, name, "guess-1")[0], names))
    assert statuses.count(401) <= limit and 429 in statuses
    status, _, page, _ = attempt(console, agent_id, password)  # a right password, same address
    assert status == 429 and "your address" in page

    page = supervisor_page(console, sam)  # a session opened before still works
    assert "<td>address</td><td>127.0.0.1</td>" in page.split('id="locks"')[1]
    assert not any(name in page for name in names)  # the names were each under their limit
    assert fetch(sam, f"{console}/supervisor/unlock",
                 {"csrf": csrf_of(page), "subject": LOOPBACK})[0] == 302
    assert attempt(console, agent_id, password)[0] == 302


def test_only_a_supervisor_can_unlock(assistant, console, new_agent):
    agent_id, _ = new_agent
    client = assistant.redis()
    for _ in range(assistant.settings.console_login_max_failures):  # as if guessed
        one = logins.new_attempt()
        assert logins.begin(client, assistant.settings, agent_id, "192.0.2.7", one) is None
        logins.failed(client, assistant.settings, agent_id, "192.0.2.7", one)
    tom, _, _ = log_in(console, "tom", "kestrel-tom-demo")
    token = csrf_of(fetch(tom, f"{console}/")[2])
    assert fetch(tom, f"{console}/supervisor/unlock",
                 {"csrf": token, "subject": f"agent:{agent_id}"})[0] == 403
    assert f"agent:{agent_id}" in [lock.subject for lock in logins.locks(client)]
    logins.unlock(client, "address:192.0.2.7")


def test_logging_out_ends_the_session_for_a_copied_cookie(assistant, console, new_agent):
    agent_id, password = new_agent
    status, _, _, opener = attempt(console, agent_id, password)
    assert status == 302
    stolen = session_cookie(opener)
    assert replay(console, stolen, "/api/snapshot")[0] == 200  # the copy works while logged in
    token = csrf_of(fetch(opener, f"{console}/")[2])
    assert fetch(opener, f"{console}/logout", {"csrf": token})[0] == 302
    assert replay(console, stolen, "/api/snapshot")[0] == 401
    status, headers = replay(console, stolen, "/")
    assert status == 302 and headers["Location"].endswith("/console/login")
    assert socket_status(console, stolen) == 401


def test_an_open_live_socket_closes_at_its_next_heartbeat_after_logout(assistant, console,
                                                                        new_agent):
    """Revoking a session also ends a console page that was already open (it checked only at
    connect time before)."""
    import json

    import websockets

    agent_id, password = new_agent
    opener = attempt(console, agent_id, password)[3]
    cookie = session_cookie(opener)

    async def scenario() -> bool:
        async with websockets.connect(console.replace("http", "ws") + "/live",
                                      extra_headers={"Cookie": f"sb_session={cookie}"}) as ws:
            await ws.send(json.dumps({"kind": "heartbeat"}))
            await asyncio.wait_for(ws.recv(), 10)  # open and live: a snapshot comes
            token = csrf_of(fetch(opener, f"{console}/")[2])
            assert fetch(opener, f"{console}/logout", {"csrf": token})[0] == 302
            await ws.send(json.dumps({"kind": "heartbeat"}))
            deadline = time.monotonic() + 45  # snapshots keep coming while the socket lives
            try:
                while time.monotonic() < deadline:
                    await asyncio.wait_for(ws.recv(), 30)
            except websockets.ConnectionClosed:
                return True
            except asyncio.TimeoutError:
                pass
            return False

    assert asyncio.run(scenario())


def test_a_password_change_ends_all_the_agents_sessions(assistant, console, new_agent):
    agent_id, password = new_agent
    sessions = [attempt(console, agent_id, password)[3] for _ in range(2)]  # two browsers
    assert all(fetch(s, f"{console}/api/snapshot")[0] == 200 for s in sessions)
    new_password = f"pw-{uuid.uuid4().hex}"
    changed = subprocess.run(  # the real command an administrator runs
        [sys.executable, "-m", "processes.cli", "agents", "passwd", agent_id,
         "--password-stdin"], input=new_password + "\n", capture_output=True, text=True,
        env={**os.environ, **assistant.settings.to_env()}, cwd=PROJECT_ROOT, timeout=120)
    assert changed.returncode == 0, changed.stderr
    assert "2 console session(s) ended" in changed.stdout
    assert all(fetch(s, f"{console}/api/snapshot")[0] == 401 for s in sessions)
    assert socket_status(console, session_cookie(sessions[0])) == 401
    assert attempt(console, agent_id, password)[0] == 401
    assert attempt(console, agent_id, new_password)[0] == 302


def _only_session(assistant, agent_id: str) -> str:
    [key] = assistant.redis().smembers(logins._index_key(agent_id))
    return key


def test_an_idle_session_ends_and_a_busy_one_slides(assistant, console, new_agent):
    agent_id, password = new_agent
    client, idle = assistant.redis(), assistant.settings.console_idle_minutes * 60
    opener = attempt(console, agent_id, password)[3]
    key = _only_session(assistant, agent_id)
    client.hset(key, "seen", time.time() - idle + 60)  # used 29 minutes ago: still alive
    assert fetch(opener, f"{console}/api/snapshot")[0] == 200
    assert time.time() - float(client.hget(key, "seen")) < 5  # and its idle time restarted
    assert 0 < client.ttl(key) <= idle
    client.hset(key, "seen", time.time() - idle - 1)  # unused for longer than the timeout
    assert fetch(opener, f"{console}/api/snapshot")[0] == 401
    status, headers, _ = fetch(opener, f"{console}/")
    assert status == 302 and headers["Location"].endswith("/console/login")
    assert not client.exists(key)


def test_a_session_ends_after_twelve_hours_however_busy(assistant, console, new_agent):
    agent_id, password = new_agent
    opener = attempt(console, agent_id, password)[3]
    key = _only_session(assistant, agent_id)
    assistant.redis().hset(key, "created", time.time() - logins.SESSION_SECONDS - 1)
    assert fetch(opener, f"{console}/api/snapshot")[0] == 401


def test_a_session_cookie_is_a_random_id_not_a_readable_token(console, new_agent):
    agent_id, password = new_agent
    cookies = {session_cookie(attempt(console, agent_id, password)[3]) for _ in range(2)}
    assert len(cookies) == 2
    for cookie in cookies:  # 256 random bits and their HMAC: no name inside (there was)
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}\.[0-9a-f]{64}", cookie), cookie


@pytest.mark.parametrize(("env", "secure"), [
    ({"CONSOLE_SECURE_COOKIES": "true"}, True),
    ({"SWITCHBOARD_PUBLIC_URL": "https://help.example.com"}, True),  # auto
    ({"SWITCHBOARD_PUBLIC_URL": "http://localhost:5005"}, False),  # auto
    ({"CONSOLE_SECURE_COOKIES": "false", "SWITCHBOARD_PUBLIC_URL": "https://x.example"},
     False),
])
def test_console_cookies_are_secure_behind_https(tmp_path, env, secure):
    settings = Settings.from_env({"SWITCHBOARD_DATA_DIR": str(tmp_path), **env})
    for reply in (auth.login_form(settings, error=None), auth.session_reply(settings, "x" * 43)):
        [cookie] = [str(c) for c in reply.headers.getall("Set-Cookie")]
        assert ("Secure" in cookie) is secure, cookie
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


EXPECTED_CSP = ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'",
                "base-uri 'none'", "form-action 'self'")


def assert_protected(headers, what: str) -> None:
    csp = headers.get("Content-Security-Policy") or ""
    assert all(part in csp for part in EXPECTED_CSP), (what, csp)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, what
    assert headers.get("X-Frame-Options") == "DENY", what
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("Referrer-Policy") == "no-referrer", what


def test_every_console_response_forbids_framing_and_foreign_script(console):
    anonymous, _ = browser()
    for path in ("/login", "/api/snapshot", "/", "/static/console.js", "/static/console.css",
                 "/static/missing.js"):
        status, headers, _ = fetch(anonymous, f"{console}{path}")
        assert_protected(headers, f"{path} ({status})")
    status, headers, _ = fetch(anonymous, f"{console}/login", {"csrf": "forged"})
    assert status == 403
    assert_protected(headers, "refused login")
    assert "Secure" not in str(headers.get_all("Set-Cookie"))  # plain-HTTP test stack: auto

    sam, status, headers = log_in(console, "sam", "kestrel-sam-demo")
    assert status == 302
    assert_protected(headers, "login")
    with sam.open(f"{console}/supervisor/chart/handoff-rate.png", timeout=60) as chart:
        assert_protected(chart.headers, "chart")  # an image: not decoded as text
    for path in ("/", "/api/snapshot", "/supervisor", "/chat/webchat%3Anot-mine"):
        status, headers, page = fetch(sam, f"{console}{path}")
        assert_protected(headers, f"{path} ({status})")
        if headers.get("Content-Type", "").startswith("text/html"):
            # nothing inline for the policy to block: scripts and styles are files
            assert not re.search(r"<script(?![^>]*\bsrc=)|<style|\sstyle=", page), path
    assert not re.search(r"<script(?![^>]*\bsrc=)|<style|\sstyle=",
                         fetch(anonymous, f"{console}/login")[2])


@pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                    reason="Debian's chromium is not installed (make test installs it)")
def test_the_console_works_under_its_policy_in_a_browser(console, new_agent):
    from playwright.sync_api import expect, sync_playwright

    agent_id, password = new_agent
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox"])
        page = chromium.new_page()
        refused = []
        page.on("console", lambda message: refused.append(message.text)
                if "Content Security Policy" in message.text else None)
        page.goto(f"{console}/login")
        page.fill("input[name=agent]", agent_id)
        page.fill("input[name=password]", password)
        page.click("button:has-text('Log in')")
        expect(page.locator("#connection")).to_have_text("live")  # script and socket allowed
        expect(page.locator("#connection")).to_have_class("live")  # the stylesheet's class
        # css ran: the stylesheet lays the page out as a flex column (the default is block)
        assert page.evaluate("getComputedStyle(document.body).display") == "flex"
        page.click("button:has-text('Log out')")  # the form posts under form-action 'self'
        page.wait_for_url(re.compile(r"/console/login$"))
        assert refused == []
        chromium.close()
