"""The agent console as an agent works in it all day, in headless Chromium on the running stack:
log in, a chat arrives and alerts, take it with the keyboard, answer with a canned answer via
`/`, add a note, transfer, take another, close it with a rating question; the `?` overlay, the
draft kept per conversation; axe-core on every console page (no serious or critical violation)
at 1280x800 and 1920x1080. Screenshots go to reports/screenshots/ (not committed)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from handoff import queue
from tests.test_console import CHROMIUM
from tests.test_telegram_channel import message_update, post, telegram_chat, texts_to

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                reason="Debian's chromium is not installed (make test does)")
ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "reports" / "screenshots"
ASK = "I want to speak to a real person"
SIZES = {"1280x800": {"width": 1280, "height": 800}, "1920x1080": {"width": 1920, "height": 1080}}

# Desktop notifications, recorded instead of shown (headless Chromium has no desktop); an
# init script runs before the page's own and is not subject to its CSP.
RECORD_NOTIFICATIONS = """
window.__notifications = [];
window.Notification = class {
  constructor(title, options) { window.__notifications.push({title, body: (options || {}).body}); }
  static get permission() { return "granted"; }
  static requestPermission() { return Promise.resolve("granted"); }
};
"""


def axe_violations(page, context: str | None = None) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now (WCAG 2.x A/AA and
    best practices). Evaluated over the DevTools protocol: the page's CSP stays as it is."""
    page.evaluate(AXE.read_text())
    found = page.evaluate("""async (context) => {
        const result = await axe.run(context ? document.querySelector(context) : document,
                                     {resultTypes: ["violations"]});
        return result.violations.filter(v => ["serious", "critical"].includes(v.impact))
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
    }""", context)
    return found


def assert_accessible(page, name: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{name}: {violations}"


def shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def drain(assistant) -> None:
    client = assistant.redis()
    while queue.claim_next(client, "drain", list(queue.SKILLS), 100_000):
        pass


def log_in(browser, console, agent: str, password: str, size: str = "1280x800"):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=SIZES[size])
    context.add_init_script(RECORD_NOTIFICATIONS)
    page = context.new_page()
    page.goto(f"{console}/login")
    page.fill("input[name=agent]", agent)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Log in')")
    expect(page.locator("#connection")).to_have_text("live")
    page.wait_for_function("() => Number(document.body.dataset.snapshots || 0) > 0")
    return page


def test_the_agent_day_at_the_console(assistant, console, fake_telegram, browser):
    """Login; a chat arrives (listed live, notified); Alt+N takes it; `/roam` + Enter picks the
    canned roaming answer and Enter sends it; a note; a transfer to billing; a second chat
    taken; closed with a disposition and the rating question."""
    from playwright.sync_api import expect

    drain(assistant)
    page = log_in(browser, console, "tom", "kestrel-tom-demo")
    shot(page, "console-queue-empty")

    # A chat arrives: in the waiting list without a reload, a notification and a toast.
    chat_id, sender, told = telegram_chat(assistant, fake_telegram, ASK)
    assert "You're next" in told
    expect(page.locator("#queue")).to_contain_text(ASK)
    page.wait_for_function("() => window.__notifications.length > 0")
    assert "New chat waiting" in page.evaluate("() => window.__notifications[0].title")
    expect(page.locator("#toasts")).to_contain_text("New chat waiting")
    timer = page.locator("#queue .row").first.locator(".timer")
    expect(timer).to_have_text(re.compile(r"\d+:\d\d"))
    shot(page, "console-chat-arrives")

    # Taken with the keyboard.
    page.keyboard.press("Alt+N")
    expect(page).to_have_url(re.compile(r"/console/chat/telegram%3A"))
    expect(page.locator("#transcript")).to_contain_text(ASK)
    expect(page.locator("#transcript .bubble--customer").first).to_be_visible()
    expect(page.locator("#transcript .bubble--system", has_text="Taken by tom")).to_be_visible()
    expect(page.locator("#mine .row a[aria-current=page]")).to_have_count(1)
    expect(page.locator("#reply-text")).to_be_focused()

    # A canned answer: "/" and a few letters, Enter chooses it, Enter sends it.
    page.keyboard.type("/roam")
    options = page.locator("#canned-list [role=option]:visible")
    expect(options).to_have_count(1)
    expect(options.first).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Enter")
    canned = page.input_value("#reply-text")
    assert "roaming" in canned.lower() and not canned.startswith("/")
    page.keyboard.press("Shift+Enter")  # a new line, not a send
    assert page.input_value("#reply-text") == canned + "\n"
    page.keyboard.type("Tom here.")
    page.keyboard.press("Enter")
    expect(page.locator("#transcript .bubble--agent")).to_contain_text("Tom here.")
    expect(page.locator("#transcript .bubble--agent .delivery").last).to_have_text("sent")
    assert canned.split("\n")[0][:30] in texts_to(fake_telegram, chat_id, count=2)[-1]

    # An internal note: on the page, visibly different, never sent.
    page.fill("#note-text", "Customer travels to France on Friday.")
    page.press("#note-text", "Enter")
    expect(page.locator("#transcript .bubble--note")).to_contain_text("travels to France")
    assert not any("France" in m["text"] for m in fake_telegram.sent_to(chat_id, wait=0.5,
                                                                         count=99))
    assert_accessible(page, "conversation")
    shot(page, "console-conversation")

    # Transfer to billing (Alt+T opens the transfer box).
    page.keyboard.press("Alt+T")
    expect(page.locator("#transfer-to")).to_be_focused()
    page.select_option("#transfer-to", "skill:billing")
    page.click("#transfer button")
    expect(page).to_have_url(re.compile(r"/console/(\?.*)?$"))
    assert "passing you to a colleague" in texts_to(fake_telegram, chat_id, count=3)[-1]
    assert queue.owner(assistant.redis(), sender) == "queued"
    assert queue.cancel(assistant.redis(), sender)

    # Another chat; taken with the keyboard; closed with a rating question (Alt+C).
    chat_2, sender_2, _ = telegram_chat(assistant, fake_telegram, ASK)
    expect(page.locator("#queue")).to_contain_text(ASK)
    page.keyboard.press("Alt+N")
    expect(page).to_have_url(re.compile(re.escape(f"/console/chat/telegram%3A{chat_2}")))
    page.keyboard.press("Alt+C")
    expect(page.locator("#disposition")).to_be_focused()
    page.select_option("#disposition", "agent_closed")
    expect(page.locator("#close input[name=csat]")).to_be_checked()
    shot(page, "console-close")
    page.click("#close button")
    expect(page).to_have_url(re.compile(r"/console/(\?.*)?$"))
    said = texts_to(fake_telegram, chat_2, count=3)
    assert any("now closed" in t for t in said) and "from 1" in said[-1]
    post(assistant, message_update(chat_2, text="5"))
    assistant.wait_recorded()
    [contact] = assistant.contacts(sender_2)
    assert (contact["status"], contact["disposition"]) == ("completed", "agent_closed")


def test_shortcuts_overlay_draft_and_accessibility_of_every_page(assistant, console,
                                                                fake_telegram, browser):
    """`?` lists the shortcuts; a draft survives a reload; the login, queue, conversation,
    earlier-contact and supervisor pages have no serious or critical axe violation at either
    size; a past contact opens its transcript."""
    from playwright.sync_api import expect

    for size in SIZES:
        drain(assistant)
        context = browser.new_context(viewport=SIZES[size])
        login = context.new_page()
        login.goto(f"{console}/login")
        assert_accessible(login, f"login {size}")
        shot(login, f"console-login-{size}")
        context.close()

        page = log_in(browser, console, "sam", "kestrel-sam-demo", size)
        chat_id, sender, _ = telegram_chat(assistant, fake_telegram, ASK)
        expect(page.locator("#queue")).to_contain_text(ASK)
        expect(page.locator("#all")).to_contain_text(ASK)  # supervisors: the All tab
        assert_accessible(page, f"queue {size}")
        page.keyboard.press("?")
        expect(page.locator("#help")).to_be_visible()
        expect(page.locator("#help")).to_contain_text("take the next waiting chat")
        assert_accessible(page, f"shortcuts {size}")
        page.keyboard.press("Escape")
        expect(page.locator("#help")).to_be_hidden()

        page.keyboard.press("Alt+N")
        expect(page.locator("#transcript")).to_contain_text(ASK)
        page.fill("#reply-text", "half-written answer")
        page.reload()
        expect(page.locator("#reply-text")).to_have_value("half-written answer")
        assert_accessible(page, f"conversation {size}")
        shot(page, f"console-conversation-{size}")
        first = page.locator("#history tbody a").first
        expect(first).to_be_visible()
        first.click()
        expect(page.locator("#transcript")).to_contain_text(ASK)
        assert_accessible(page, f"earlier contact {size}")
        queue.return_to_bot(assistant.redis(), "sam", sender)

        page.goto(f"{console}/supervisor")
        expect(page.locator("#report")).to_contain_text("contacts")
        expect(page.locator("#skills")).to_contain_text("Waiting over")
        assert_accessible(page, f"supervisor {size}")
        shot(page, f"console-supervisor-{size}")
        page.context.close()


def test_service_target_breaches_in_the_report(db):
    """`switchboard report` and the supervisor view count the responses that missed their
    target: first (queued to the agent's first reply) and next (the customer's message to the
    agent's next reply, within one pickup)."""
    from datetime import datetime

    from operations.report_cli import render
    from operations.reports import build_report
    from tests.test_reports import History

    def at(hour: int, minute: int, second: int = 0) -> datetime:
        return datetime(2026, 3, 3, hour, minute, second)

    with db.transaction() as session:
        h = History(session)
        a = h.begin("webchat", "breach-a", at(10, 0))
        h.say(a, ASK, "request_human", at(10, 0))
        h.op(a, "handoff_requested", "success", "requested", at(10, 0, 1))
        h.pickup(a, "tom", at(10, 0, 30))
        h.reply(a, "Hello", at(10, 0, 51), author="agent")  # first: 50 s, within 60
        h.say(a, "my bill", None, at(10, 1))
        h.reply(a, "Checking", at(10, 4), author="agent")  # next: 180 s, a breach
        h.say(a, "thanks", None, at(10, 4, 10))
        h.reply(a, "Done", at(10, 5), author="agent")  # next: 50 s
        h.release(a, "returned", at(10, 6))
        h.say(a, "hi bot", None, at(10, 7))  # with the bot again: not an agent's response
        b = h.begin("webchat", "breach-b", at(11, 0))
        h.op(b, "handoff_requested", "success", "requested", at(11, 0))
        h.pickup(b, "ana", at(11, 2))
        h.reply(b, "Hi", at(11, 2, 10), author="agent")  # first: 130 s, a breach
        h.release(b, "closed agent_closed", at(11, 3))
        c = h.begin("webchat", "breach-c", at(12, 0))  # queued, never answered: no response
        h.op(c, "handoff_requested", "success", "requested", at(12, 0))
    with db.reading() as session:
        report = build_report(session, datetime(2026, 3, 2), datetime(2026, 3, 9), None)
    breaches = report.response_breaches
    assert (breaches.first, breaches.first_total) == (1, 2)
    assert (breaches.next, breaches.next_total) == (1, 2)
    assert "first response 1 of 2; next response 1 of 2" in render(report, "text")
    assert '"breaches": 1' in render(report, "json")
    assert "response_breaches.next_response,breaches,1" in render(report, "csv")


def test_each_skill_is_judged_by_its_own_targets(db):
    """HANDOFF_SKILL_TARGETS gives complaints 120/300 s while billing keeps 60/120: the same
    100 s first reply is on time for a complaint and a breach for a bill; a next reply is judged
    by the skill of the pickup (a transfer to complaints); a customer who left, or was handed
    back to the bot, unanswered lowers the skill's service level (a transfer does not end the
    wait); records from before handoffs named their skill count as 'unknown'."""
    from datetime import datetime

    from operations.report_cli import render
    from operations.reports import build_report
    from switchboard.settings import Settings
    from tests.test_reports import History

    settings = Settings.from_env({"HANDOFF_SKILL_TARGETS": "complaints=120/300"})

    def at(hour: int, minute: int, second: int = 0) -> datetime:
        return datetime(2026, 4, 7, hour, minute, second)

    with db.transaction() as session:
        h = History(session)
        bill = h.begin("webchat", "skills-bill", at(9, 0))
        h.op(bill, "handoff_requested", "success", "requested", at(9, 0), "billing")
        h.pickup(bill, "tom", at(9, 1), "billing")
        h.reply(bill, "Hello", at(9, 1, 40), author="agent")  # 100 s: over billing's 60
        h.release(bill, "transferred to complaints", at(9, 2))
        h.pickup(bill, "ana", at(9, 3), "complaints")
        h.say(bill, "it is about a complaint", None, at(9, 3, 10))
        h.reply(bill, "Hi, Ana here", at(9, 3, 20), author="agent")  # ana's first: no next
        h.say(bill, "so?", None, at(9, 3, 30))
        h.reply(bill, "Filed", at(9, 6, 10), author="agent")  # 160 s: within 300, not 120
        complaint = h.begin("sms", "skills-complaint", at(10, 0))
        h.op(complaint, "handoff_requested", "success", "requested", at(10, 0), "complaints")
        h.pickup(complaint, "ana", at(10, 1), "complaints")
        h.reply(complaint, "Hello", at(10, 1, 40), author="agent")  # 100 s: within 120
        gone = h.begin("webchat", "skills-gone", at(11, 0))
        h.op(gone, "handoff_requested", "success", "requested", at(11, 0), "billing")
        h.end(gone, "customer_goodbye", at(11, 5))  # left the queue: an abandon
        returned = h.begin("webchat", "skills-returned", at(13, 0))  # stays open
        h.op(returned, "handoff_requested", "success", "requested", at(13, 0), "general")
        h.pickup(returned, "tom", at(13, 0, 30), "general")
        h.release(returned, "tom: returned", at(13, 1))  # back to the bot, never answered
        moved = h.begin("webchat", "skills-moved", at(14, 0))
        h.op(moved, "handoff_requested", "success", "requested", at(14, 0), "billing")
        h.pickup(moved, "tom", at(14, 0, 10), "billing")
        h.release(moved, "tom: transferred to complaints", at(14, 0, 20))  # still waiting
        h.pickup(moved, "ana", at(14, 0, 40), "complaints")
        h.reply(moved, "Ana here", at(14, 0, 50), author="agent")  # 50 s: billing's first
        old = h.begin("webchat", "skills-old", at(12, 0))
        h.op(old, "handoff_requested", "success", "requested", at(12, 0))  # no skill named
        h.pickup(old, "tom", at(12, 0, 30))
        h.reply(old, "Hello", at(12, 0, 50), author="agent")  # 50 s: within the default 60
    with db.reading() as session:
        report = build_report(session, datetime(2026, 4, 6), datetime(2026, 4, 8), None,
                              settings.service_target)
    skills = report.response_breaches.by_skill
    billing, complaints, unknown = skills["billing"], skills["complaints"], skills["unknown"]
    assert (billing.first_target, billing.next_target) == (60, 120)
    assert (complaints.first_target, complaints.next_target) == (120, 300)
    assert (billing.first, billing.first_total, billing.unanswered) == (1, 2, 1)
    assert billing.service_level == 1 / 3  # one late, one who left unanswered, one on time
    assert (skills["general"].first_total, skills["general"].unanswered) == (0, 1)
    assert (complaints.first, complaints.first_total, complaints.unanswered) == (0, 1, 0)
    assert (complaints.next, complaints.next_total) == (0, 1)  # the transferred chat's 160 s
    assert billing.next_total == 0
    assert (unknown.first, unknown.first_total, unknown.service_level) == (0, 1, 1.0)
    text = render(report, "text")
    assert "complaints" in text and "service level 100.0%; first response 0 of 1 over 120 s" \
        in text
    assert "billing" in text and "service level 33.3%; first response 1 of 2 over 60 s, " \
        "1 unanswered" in text
    assert "response_breaches.by_skill.complaints.first_response,target_seconds,120.0" in \
        render(report, "csv")


def test_the_boards_service_level_today_counts_today_in_the_agents_zone(db):
    """Since midnight in HANDOFF_TIMEZONE: yesterday's late reply is not today's; today's
    on-time reply and today's abandon make 50%; a skill's own target decides "on time"."""
    from datetime import datetime, timedelta, timezone
    from types import SimpleNamespace

    from handoff.console.service_level import service_today, start_of_today
    from switchboard.settings import Settings
    from tests.test_reports import History

    settings = Settings.from_env({"HANDOFF_SKILL_TARGETS": "technical=300/600",
                                  "HANDOFF_TIMEZONE": "Pacific/Auckland"})
    midnight = start_of_today("Pacific/Auckland")
    assert midnight <= datetime.now(timezone.utc).replace(tzinfo=None) < \
        midnight + timedelta(days=1)
    with db.transaction() as session:
        h = History(session)
        late = h.begin("webchat", "today-late", midnight - timedelta(minutes=30))
        h.op(late, "handoff_requested", "success", "requested", midnight - timedelta(minutes=30),
             "technical")
        h.reply(late, "Hi", midnight - timedelta(minutes=10), author="agent")  # late, yesterday
        fine = h.begin("webchat", "today-fine", midnight + timedelta(seconds=5))
        h.op(fine, "handoff_requested", "success", "requested",
             midnight + timedelta(seconds=5), "technical")
        h.reply(fine, "Hi", midnight + timedelta(seconds=245), author="agent")  # 240 s < 300
        gone = h.begin("webchat", "today-gone", midnight + timedelta(seconds=10))
        h.op(gone, "handoff_requested", "success", "requested",
             midnight + timedelta(seconds=10), "technical")
        h.end(gone, "customer_goodbye", midnight + timedelta(seconds=70))
    app = SimpleNamespace(ctx=SimpleNamespace(settings=settings, db=db))
    technical = service_today(app)["technical"]
    assert technical == {"service_level": 0.5, "responses": 1, "first_breaches": 0,
                         "unanswered": 1, "next_breaches": 0}
