"""The handoff end to end, over the running stack (real Redis, Rasa, action server, console):
a customer on the web chat (in Chromium) and one on Telegram (the Bot API stand-in) ask for a
person; an agent logged into the console in headless Chromium sees the chat arrive live, takes
it with its transcript and history, replies; the reply reaches the customer's channel; what the
customer writes meanwhile reaches the agent live and never Rasa; the agent returns the chat to
the bot and the bot answers again."""

from __future__ import annotations

import os

import pytest

from bot.channels.webchat import session_from_token
from handoff import queue
from tests.test_console import CHROMIUM
from tests.test_telegram_channel import message_update, post, telegram_chat, texts_to

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                reason="Debian's chromium is not installed (make test does)")
ASK = "I want to speak to a real person"
MEANWHILE = "it's about my <b>roaming</b> charges"


@pytest.fixture
def agent_page(browser, console, assistant):
    """Tom's console, logged in, live; the queue drained of other tests' conversations."""
    from playwright.sync_api import expect

    client = assistant.redis()
    while queue.claim_next(client, "drain", list(queue.SKILLS), 100_000):
        pass
    page = browser.new_context().new_page()
    page.goto(f"{console}/login")
    page.fill("input[name=agent]", "tom")
    page.fill("input[name=password]", "kestrel-tom-demo")
    page.click("button:has-text('Log in')")
    expect(page.locator("#connection")).to_have_text("live")
    return page


def user_texts(assistant, sender: str) -> list[str]:
    return [e["text"] for e in assistant.tracker(sender)["events"] if e["event"] == "user"]


def take_and_answer(page, ask_seen: str):
    """In the console: the chat shows up live, Take next, transcript and history are there."""
    from playwright.sync_api import expect

    expect(page.locator("#queue")).to_contain_text(ask_seen)  # no reload: the socket
    page.click("#take")
    expect(page.locator("#transcript")).to_contain_text(ASK)
    expect(page.locator("#transcript")).to_contain_text("passing you to one of our agents")
    expect(page.locator("#history tbody tr").first).to_be_visible()
    expect(page.locator("#connection")).to_have_text("live")
    page.fill("#reply textarea", "Hello, Tom here. How can I help?")
    page.click("#reply button")


def test_web_chat_customer_and_agent_in_browsers(assistant, browser, agent_page):
    from playwright.sync_api import expect

    customer = browser.new_context().new_page()
    customer.goto(f"{assistant.base_url}/webhooks/webchat/")
    expect(customer.locator("#status")).to_have_text("online")
    customer.fill("#text", ASK)
    customer.press("#text", "Enter")
    expect(customer.locator(".chat__log")).to_contain_text("You're next")
    token = customer.evaluate("localStorage.getItem('switchboard.webchat.token')")
    sender = f"webchat:{session_from_token(assistant.settings, token)}"
    assert queue.owner(assistant.redis(), sender) == "queued"

    take_and_answer(agent_page, ASK)
    expect(customer.locator(".chat__log")).to_contain_text("Hello, Tom here. How can I help?")
    assert queue.owner(assistant.redis(), sender) == "agent:tom"

    customer.fill("#text", MEANWHILE)
    customer.press("#text", "Enter")
    expect(agent_page.locator("#transcript")).to_contain_text(MEANWHILE)  # live, as text
    assert agent_page.locator("#transcript b:has-text('roaming')").count() == 0
    assert MEANWHILE not in user_texts(assistant, sender)  # never reached Rasa

    customer.reload()  # the history shows the time with the agent too (from the record)
    expect(customer.locator(".chat__log")).to_contain_text("Hello, Tom here. How can I help?")
    expect(customer.locator(".msg--customer .msg__text").last).to_have_text(MEANWHILE)
    # under the agent's name, not "Agent", and Tom's next reply is still Tom's after the reload
    expect(customer.locator(".msg--agent .msg__who").last).to_have_text("Tom")
    agent_page.fill("#reply textarea", "Still here after your reload.")
    agent_page.click("#reply button")
    expect(customer.locator(".msg--agent").last).to_contain_text("Still here after your reload.")
    expect(customer.locator(".msg--agent .msg__who").last).to_have_text("Tom")
    assert "joined the chat" not in customer.locator(".chat__log").inner_text().split(
        "Still here")[0].split(MEANWHILE)[-1]  # no second "joined" line on reload

    agent_page.click("button:has-text('Return to the bot')")
    expect(customer.locator(".chat__log")).to_contain_text("back with the Kestrel Mobile")
    bot_replies = customer.locator(".msg--bot").count()
    customer.fill("#text", "hi")
    customer.press("#text", "Enter")
    expect(customer.locator(".msg--bot")).to_have_count(bot_replies + 1)
    expect(customer.locator(".msg--bot").last).to_contain_text("Kestrel Mobile assistant")
    assert "hi" in user_texts(assistant, sender)  # Rasa again
    customer.reload()
    expect(customer.locator(".msg--customer .msg__text").last).to_have_text("hi")
    texts = customer.locator(".chat__log li").all_inner_texts()
    order = [next(i for i, t in enumerate(texts) if wanted in t) for wanted in
             (ASK, "Hello, Tom here", "back with the Kestrel Mobile")]
    assert order == sorted(order)  # in the order it happened


def test_telegram_customer_and_agent_in_a_browser(assistant, fake_telegram, agent_page):
    from playwright.sync_api import expect

    chat_id, sender, told = telegram_chat(assistant, fake_telegram, ASK)
    assert "You're next" in told

    take_and_answer(agent_page, ASK)
    assert texts_to(fake_telegram, chat_id, count=2)[-1] == "Hello, Tom here. How can I help?"

    post(assistant, message_update(chat_id, text=MEANWHILE))
    expect(agent_page.locator("#transcript")).to_contain_text(MEANWHILE)
    assert MEANWHILE not in user_texts(assistant, sender)
    assert len(fake_telegram.sent_to(chat_id, wait=1.0, count=3)) == 2  # and no bot reply
    [contact] = assistant.contacts(sender)  # the record mirrors the owner
    assert (contact["status"], contact["agent_id"]) == ("with_agent", "tom")

    agent_page.click("button:has-text('Return to the bot')")
    assert "back with the Kestrel Mobile" in texts_to(fake_telegram, chat_id, count=3)[-1]
    post(assistant, message_update(chat_id, text="hi"))
    assert "Kestrel Mobile assistant" in texts_to(fake_telegram, chat_id, count=4)[-1]
    [contact] = assistant.contacts(sender)
    authors = [t["author"] for t in contact["touches"]]
    assert "agent" in authors and contact["agent_id"] == "tom"
    assert contact["status"] == "open"  # the bot's again
    handling = [o["category"] for o in contact["operations"]
                if o["category"].startswith("agent_")]
    assert handling == ["agent_pickup", "agent_release"]
    # What the customer wrote to the agent is on the record: theirs, word for word, after the
    # pickup and the agent's first reply (the bot's greeting mentions roaming too: not enough).
    touches = [(t["author"], t["text"]) for t in contact["touches"]]
    said = touches.index(("customer", MEANWHILE))
    assert touches.count(("customer", MEANWHILE)) == 1
    assert said > touches.index(("agent", "Hello, Tom here. How can I help?"))
    [pickup] = [o for o in contact["operations"] if o["category"] == "agent_pickup"]
    assert contact["touches"][said]["at"] >= pickup["at"]  # ISO 8601 UTC: as text, in order
    # The queue it joined and the queue it was taken from name the skill whose service
    # targets judge the agent's replies (operations/reports.py).
    [queued] = [o for o in contact["operations"]
                if (o["category"], o["result"]) == ("handoff_requested", "success")]
    assert queued["reference"] == pickup["reference"] == "general"


def test_the_console_reconnects_after_a_console_restart(assistant, browser, agent_page):
    """The console process restarts (its socket drops); the page reconnects by itself."""
    from playwright.sync_api import expect

    console = next(p for p in assistant.stack.processes if p.name == "console")
    console.stop()
    expect(agent_page.locator("#connection")).to_have_text("reconnecting…")
    console.start()
    console.wait_ready()
    expect(agent_page.locator("#connection")).to_have_text("live", timeout=30_000)
