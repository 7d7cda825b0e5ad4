"""The agent console's login, CSRF, session and queue page, on the running stack's console port
(HTTP) and in headless Chromium."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from handoff import queue
from handoff.queue import Handoff
from tests.conftest import CHROMIUM

XSS = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def browser(jar=None):
    jar = jar if jar is not None else http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    return opener, jar


def fetch(opener, url, form=None):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        with opener.open(url, data=data, timeout=30) as answer:
            return answer.status, answer.headers, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def log_in(console, agent="ana", password="kestrel-ana-demo"):
    opener, jar = browser()
    _, _, page = fetch(opener, f"{console}/login")
    status, headers, _ = fetch(opener, f"{console}/login",
                               {"csrf": csrf_of(page), "agent": agent, "password": password})
    return opener, status, headers


CONSOLE_PAGES = ("/", "/api/snapshot", "/supervisor", "/chat/webchat%3Aabc")
CONSOLE_FORMS = ("/take", "/pick", "/status", "/logout", "/chat/webchat%3Aabc/reply",
                 "/chat/webchat%3Aabc/note", "/chat/webchat%3Aabc/transfer",
                 "/chat/webchat%3Aabc/return", "/chat/webchat%3Aabc/close")


def test_every_console_route_needs_a_login(console):
    opener, _ = browser()
    for path in CONSOLE_PAGES + CONSOLE_FORMS:
        form = {} if path in CONSOLE_FORMS else None
        status, headers, _ = fetch(opener, f"{console}{path}", form)
        assert status in (302, 401), path
        if status == 302:
            assert headers["Location"].endswith("/console/login"), path
    assert fetch(opener, f"{console}/api/snapshot")[0] == 401  # the API answers JSON


def test_the_live_socket_needs_a_login(console):
    import asyncio

    import websockets
    from websockets.exceptions import InvalidStatusCode

    async def connect():
        async with websockets.connect(console.replace("http", "ws") + "/live"):
            pass

    with pytest.raises(InvalidStatusCode) as refused:
        asyncio.run(connect())
    assert refused.value.status_code == 401


def test_login_needs_the_csrf_token_and_the_right_password(console):
    opener, _ = browser()
    assert fetch(opener, f"{console}/login", {"agent": "ana",
                                              "password": "kestrel-ana-demo"})[0] == 403
    _, status, _ = log_in(console, password="not the password")
    assert status == 401
    opener, status, headers = log_in(console)
    assert status == 302 and headers["Location"] == "/console/"
    assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
    assert fetch(opener, f"{console}/api/snapshot")[0] == 200


def test_a_tampered_session_cookie_is_refused(console):
    opener, _, _ = log_in(console)
    jar = [h for h in opener.handlers if isinstance(h, urllib.request.HTTPCookieProcessor)][0]
    for cookie in jar.cookiejar:
        if cookie.name == "sb_session":
            cookie.value = cookie.value.replace(".", "x.", 1)
    assert fetch(opener, f"{console}/api/snapshot")[0] == 401


def test_the_queue_shows_customer_text_escaped(assistant, console):
    sender = f"xss-{uuid.uuid4().hex[:8]}"
    queue.enqueue(assistant.redis(), Handoff(sender, "webchat", "general", "requested",
                                             transcript=[{"from": "customer", "text": XSS}],
                                             enqueued_at=time.time() - 120))
    opener, _, _ = log_in(console)
    status, _, page = fetch(opener, f"{console}/")
    assert status == 200
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in page
    assert "<script>" not in page and "<img" not in page
    _, _, data = fetch(opener, f"{console}/api/snapshot")
    assert sender in data


@pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                    reason="Debian's chromium is not installed (make test installs it)")
def test_logging_in_and_reading_the_queue_in_a_browser(assistant, console):
    from playwright.sync_api import expect, sync_playwright

    queue.enqueue(assistant.redis(), Handoff(f"xss-{uuid.uuid4().hex[:8]}", "telegram",
                                             "billing", "requested",
                                             transcript=[{"from": "customer", "text": XSS}]))
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox"])
        page = chromium.new_page()
        dialogs = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(f"{console}/")  # redirected to the login page
        expect(page).to_have_url(re.compile(r"/console/login$"))
        page.fill("input[name=agent]", "ana")
        page.fill("input[name=password]", "kestrel-ana-demo")
        page.click("button:has-text('Log in')")
        expect(page.locator("#queue")).to_contain_text(XSS)  # shown as text
        assert "pwned" not in page.title() and dialogs == []
        chromium.close()


def test_an_agent_takes_a_telegram_chat_replies_and_returns_it_to_the_bot(assistant, console,
                                                                          fake_telegram):
    import urllib.parse as parse

    from tests.test_telegram_channel import message_update, post, telegram_chat, texts_to

    client = assistant.redis()
    while queue.claim_next(client, "drain", ["technical", "general"], 10_000):
        pass  # other tests' waiting conversations: this one must be next
    chat_id, sender, told = telegram_chat(assistant, fake_telegram)
    assert "passing you to one of our agents" in told

    opener, status, _ = log_in(console, "tom", "kestrel-tom-demo")
    _, _, home = fetch(opener, f"{console}/")
    token = csrf_of(home)
    status, headers, _ = fetch(opener, f"{console}/take", {"csrf": token})
    chat_url = f"{console}/chat/{parse.quote(sender, safe='')}"
    assert status == 302 and headers["Location"].endswith(parse.quote(sender, safe=""))
    assert "I want to speak to a real person" in fetch(opener, chat_url)[2]

    post(assistant, message_update(chat_id, text="my sim stopped working <b>today</b>"))
    assistant.wait_recorded()
    page = fetch(opener, chat_url)[2]
    assert "my sim stopped working &lt;b&gt;today&lt;/b&gt;" in page  # kept for the agent
    user_texts = [e["text"] for e in assistant.tracker(sender)["events"] if e["event"] == "user"]
    assert not any("sim stopped" in t for t in user_texts)  # never reached Rasa

    assert fetch(opener, f"{chat_url}/reply", {"csrf": token,
                                               "text": "Hello, Tom here. Let me check."})[0] == 302
    assert "Hello, Tom here. Let me check." in texts_to(fake_telegram, chat_id, count=2)[-1]
    assert fetch(opener, f"{chat_url}/reply", {"csrf": "forged", "text": "x"})[0] == 403

    assert fetch(opener, f"{chat_url}/return", {"csrf": token})[0] == 302
    assert "back with the Kestrel Mobile assistant" in texts_to(fake_telegram, chat_id,
                                                               count=3)[-1]
    post(assistant, message_update(chat_id, text="hi"))
    assert "Kestrel Mobile assistant" in texts_to(fake_telegram, chat_id, count=4)[-1]
    [contact] = assistant.contacts(sender)
    agent_touches = [t["text"] for t in contact["touches"] if t["author"] == "agent"]
    assert agent_touches == ["Hello, Tom here. Let me check."]
    assert contact["agent_id"] == "tom" and contact["handled_by"] == "both"
    assert contact["status"] == "open"  # with the bot again, the agent still on record


def test_an_agent_cannot_open_someone_elses_chat(assistant, console):
    sender = f"other-{uuid.uuid4().hex[:8]}"
    queue.enqueue(assistant.redis(), Handoff(sender, "webchat", "billing", "requested"))
    queue.claim(assistant.redis(), "ana", sender, capacity=10)
    opener, _, _ = log_in(console, "tom", "kestrel-tom-demo")
    status, _, _ = fetch(opener, f"{console}/chat/{urllib.parse.quote(sender, safe='')}")
    assert status == 403


def test_an_agent_closes_a_chat_with_a_disposition_code(assistant, console, fake_telegram):
    import urllib.parse as parse

    from tests.test_telegram_channel import message_update, post, telegram_chat, texts_to

    chat_id, sender, _ = telegram_chat(assistant, fake_telegram)
    assert queue.claim(assistant.redis(), "ana", sender, capacity=10)
    opener, _, _ = log_in(console)
    chat_url = f"{console}/chat/{parse.quote(sender, safe='')}"
    page = fetch(opener, chat_url)[2]
    token = csrf_of(page)
    assert 'value="agent_closed"' in page
    assert fetch(opener, f"{chat_url}/close", {"csrf": token, "disposition": "bogus"})[0] == 400
    assert fetch(opener, f"{chat_url}/close", {"csrf": token,
                                               "disposition": "agent_closed"})[0] == 302
    assert "now closed" in texts_to(fake_telegram, chat_id, count=2)[-1]
    [contact] = assistant.contacts(sender)
    assert (contact["status"], contact["disposition"]) == ("completed", "agent_closed")
    post(assistant, message_update(chat_id, text="hi again"))
    assert "Kestrel Mobile assistant" in texts_to(fake_telegram, chat_id, count=3)[-1]
    assert len(assistant.contacts(sender)) == 2  # a new contact, with the bot


def test_an_agent_transfers_a_chat_to_billing(assistant, console, fake_telegram):
    import urllib.parse as parse

    from tests.test_telegram_channel import telegram_chat, texts_to

    chat_id, sender, _ = telegram_chat(assistant, fake_telegram)
    assert queue.claim(assistant.redis(), "tom", sender, capacity=10)
    opener, _, _ = log_in(console, "tom", "kestrel-tom-demo")
    chat_url = f"{console}/chat/{parse.quote(sender, safe='')}"
    token = csrf_of(fetch(opener, chat_url)[2])
    assert fetch(opener, f"{chat_url}/transfer", {"csrf": token, "to": "skill:billing"})[0] == 302
    assert "passing you to a colleague" in texts_to(fake_telegram, chat_id, count=2)[-1]
    assert queue.waiting(assistant.redis(), "billing")[0] == sender
    assert fetch(opener, chat_url)[0] == 403  # no longer tom's


def test_the_supervisor_view_is_for_supervisors_and_shows_queues_and_agents(assistant,
                                                                             console):
    sender = f"sup-{uuid.uuid4().hex[:8]}"
    queue.enqueue(assistant.redis(), Handoff(sender, "sms", "complaints", "repeated_complaint",
                                             enqueued_at=time.time() - 185))
    tom, _, _ = log_in(console, "tom", "kestrel-tom-demo")
    assert fetch(tom, f"{console}/supervisor")[0] == 403
    sam, _, _ = log_in(console, "sam", "kestrel-sam-demo")
    status, _, page = fetch(sam, f"{console}/supervisor")
    assert status == 200
    complaints = re.search(r"<tr><td>complaints</td><td>(\d+)</td><td>(\d+) min", page)
    assert int(complaints.group(1)) >= 1 and int(complaints.group(2)) >= 3
    # Each skill with its own targets (the stack sets complaints=150/300; billing keeps 60/120).
    assert re.search(r"<tr><td>complaints</td>.*?<td>150 s / 300 s</td>", page)
    assert re.search(r"<tr><td>billing</td>.*?<td>60 s / 120 s</td>", page)
    # Time in status: tom has been online for whole minutes and seconds, not "last seen".
    assert re.search(r"<tr><td>tom</td><td>online</td><td>\d+ (min \d+ s|h \d+ min)</td>"
                     r"<td>\d+/3</td>", page)
    assert "Service level today" in page
    assert queue.cancel(assistant.redis(), sender)


def test_each_queued_chat_is_timed_against_its_own_skills_target(assistant, console):
    """A complaint waiting 100 s is within its 150 s target; a bill waiting as long is past
    billing's 60 s: the rows carry their skill's target and the supervisor counts by it."""
    client = assistant.redis()
    complaint, bill = (f"target-{uuid.uuid4().hex[:8]}" for _ in range(2))
    queue.enqueue(client, Handoff(complaint, "sms", "complaints", "repeated_complaint",
                                  enqueued_at=time.time() - 100))
    queue.enqueue(client, Handoff(bill, "sms", "billing", "requested",
                                  enqueued_at=time.time() - 100))
    try:
        sam, _, _ = log_in(console, "sam", "kestrel-sam-demo")
        status, _, body = fetch(sam, f"{console}/api/snapshot")
        assert status == 200
        view = json.loads(body)
        rows = {row["sender_id"]: row for row in view["all"]}
        assert rows[complaint]["target_seconds"] == 150
        assert rows[bill]["target_seconds"] == 60
        assert (view["skills"]["complaints"]["first_target"],
                view["skills"]["complaints"]["next_target"]) == (150, 300)
        over = {skill: view["skills"][skill]["over_first"] for skill in ("billing", "complaints")}
        waiting_over = {skill: sum(1 for r in view["all"] if r["skill"] == skill
                                   and not r.get("agent")
                                   and r["waiting_seconds"] > r["target_seconds"])
                        for skill in over}
        assert over == waiting_over and over["billing"] >= 1
        assert "service_today" in view  # a supervisor's snapshot
    finally:
        queue.cancel(client, complaint)
        queue.cancel(client, bill)


def test_an_agent_sets_away_and_logs_out_to_offline(assistant, console):
    from handoff import presence

    opener, _, _ = log_in(console)
    token = csrf_of(fetch(opener, f"{console}/")[2])
    assert fetch(opener, f"{console}/status", {"csrf": token, "status": "away"})[0] == 302
    assert presence.get(assistant.redis(), "ana").status == "away"
    assert fetch(opener, f"{console}/status", {"csrf": token, "status": "asleep"})[0] == 400
    sender = f"held-{uuid.uuid4().hex[:8]}"
    queue.enqueue(assistant.redis(), Handoff(sender, "rest", "billing", "requested"))
    assert queue.claim(assistant.redis(), "ana", sender, capacity=10)
    assert fetch(opener, f"{console}/logout", {"csrf": token})[0] == 302
    assert presence.get(assistant.redis(), "ana").status == "offline"
    assert queue.owner(assistant.redis(), sender) == "queued"  # back in line for others
    assert fetch(opener, f"{console}/")[0] == 302  # and logged out
    assert queue.cancel(assistant.redis(), sender)


@pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                    reason="Debian's chromium is not installed (make test installs it)")
def test_the_supervisor_page_shows_the_report_charts_in_a_browser(assistant, console):
    from playwright.sync_api import expect, sync_playwright

    assistant.texts(f"report-{uuid.uuid4().hex[:8]}", "hi")  # at least one contact this week
    tom, _, _ = log_in(console, "tom", "kestrel-tom-demo")
    assert fetch(tom, f"{console}/supervisor/chart/handoff-rate.png")[0] == 403
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox"])
        page = chromium.new_page()
        page.goto(f"{console}/login")
        page.fill("input[name=agent]", "sam")
        page.fill("input[name=password]", "kestrel-sam-demo")
        page.click("button:has-text('Log in')")
        page.click("a:has-text('Supervisor view')")
        expect(page.locator("#report")).to_contain_text("contacts")
        expect(page.locator("#charts img")).to_have_count(3)
        # A function, not a string: the console's CSP refuses string evaluation (no unsafe-eval).
        page.wait_for_function("() => Array.from(document.querySelectorAll('#charts img'))"
                               ".every(i => i.complete && i.naturalWidth >= 600)")
        expect(page.locator("#agents")).to_contain_text("sam")
        # The board as the live socket redraws it: each skill's targets, the service level,
        # every agent's time in status.
        page.wait_for_function("() => Number(document.body.dataset.snapshots || 0) >= 1")
        expect(page.locator("#skills tbody tr", has_text="complaints")).to_contain_text(
            "150 s / 300 s")
        expect(page.locator("#skills tbody tr", has_text="billing")).to_contain_text(
            "60 s / 120 s")
        assert page.locator("#skills tbody tr").first.locator("td").count() == 7
        expect(page.locator("#agents tbody tr", has_text="sam").locator("td").nth(2)) \
            .to_have_text(re.compile(r"^\d+ (min \d+ s|h \d+ min)$"))
        chromium.close()


def test_a_reply_to_a_rest_conversation_is_refused_with_the_reason(assistant, console, sender):
    """A REST integration gets answers only within its own requests: nothing can be pushed to
    it later, so the console says so instead of pretending the reply went out."""
    import urllib.parse as parse

    assistant.say(sender, "hello")
    queue.enqueue(assistant.redis(), Handoff(sender, "rest", "general", "requested"))
    assert queue.claim(assistant.redis(), "tom", sender, capacity=10)
    try:
        opener, _, _ = log_in(console, "tom", "kestrel-tom-demo")
        chat_url = f"{console}/chat/{parse.quote(sender, safe='')}"
        token = csrf_of(fetch(opener, chat_url)[2])
        status, _, body = fetch(opener, f"{chat_url}/reply", {"csrf": token, "text": "Hi!"})
        assert status == 409 and "integration" in body and "note" in body
        [contact] = assistant.contacts(sender)
        assert all(t["author"] != "agent" for t in contact["touches"])
    finally:
        queue.return_to_bot(assistant.redis(), "tom", sender)


def test_odd_report_periods_fall_back_to_the_week_instead_of_failing(assistant, console):
    """``?days=`` that only looks like a number ("²" is a digit to str.isdigit, not to int;
    5,000 digits is past Python's int conversion limit) was a 500 with a traceback."""
    sam, _, _ = log_in(console, "sam", "kestrel-sam-demo")
    for days in ("%C2%B2", "9" * 5000, "-1", "1000", "abc", "1.5", "%EF%BC%97"):
        status, _, page = fetch(sam, f"{console}/supervisor?days={days}")
        assert status == 200, (days[:10], status)
        assert "Service report, last " in page
        with sam.open(f"{console}/supervisor/chart/handoff-rate.png?days={days}",
                      timeout=30) as chart:  # a PNG: not text, so not through fetch
            assert chart.status == 200 and chart.headers["Content-Type"] == "image/png"
