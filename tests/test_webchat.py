"""Web chat: a real WebSocket client on the widget's socket, and the page in headless Chromium
(Playwright driving Debian's chromium), against the running stack."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid

import pytest
import websockets

from bot.channels.webchat import session_from_token
from tests.conftest import CHROMIUM


def socket_url(assistant) -> str:
    return f"ws://127.0.0.1:{assistant.settings.rasa_port}/webhooks/webchat/socket"


async def _receive(ws, kind: str, timeout: float = 30.0) -> dict:
    """The next frame of this type (skipping others)."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame["type"] == kind:
            return frame


async def _conversation(assistant, token, messages, hello=None):
    """Say hello with ``token`` (or the given hello frame), then each message: the session token
    the server handed back, the history and the bot's first reply to each message."""
    async with websockets.connect(socket_url(assistant)) as ws:
        await ws.send(json.dumps(hello or {"type": "hello", "token": token}))
        session = await _receive(ws, "session")
        history = await _receive(ws, "history")
        replies = []
        for text in messages:
            await ws.send(json.dumps({"type": "message", "text": text,
                                      "id": uuid.uuid4().hex}))
            replies.append(await _receive(ws, "bot"))
        return session["token"], history["messages"], replies


def session_of(assistant, token: str) -> str:
    """The session id inside a token the server issued."""
    session_id = session_from_token(assistant.settings, token)
    assert session_id is not None, "the server issued a token it does not accept"
    return session_id


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_conversation_over_the_socket_then_resumed_with_history(assistant):
    token, history, [greeting] = run(_conversation(assistant, None, ["hello there"]))
    assert history == [] and "Kestrel Mobile assistant" in greeting["text"]
    again, history, [answer] = run(_conversation(assistant, token, ["what apn do I need"]))
    assert session_of(assistant, again) == session_of(assistant, token)
    assert [t["from"] for t in history[:2]] == ["customer", "bot"]
    assert history[0]["text"] == "hello there" and "internet.kestrel" in answer["text"]
    [contact] = assistant.contacts(f"webchat:{session_of(assistant, token)}")
    assert contact["channel"] == "webchat"


def test_buttons_arrive_as_buttons(assistant):
    _, _, replies = run(_conversation(assistant, None, ["xqzv blorptang wuggle",
                                                         "fnord zibble quaxx"]))
    assert [b["payload"] for b in replies[-1]["buttons"]] == ["/request_human", "/deny"]


def test_malformed_frames_get_errors_and_the_socket_stays_open(assistant):
    async def scenario():
        async with websockets.connect(socket_url(assistant)) as ws:
            await ws.send("not json")
            assert "JSON" in (await _receive(ws, "error"))["error"]
            await ws.send(json.dumps({"type": "hello", "token": "../../etc"}))
            session = await _receive(ws, "session")  # a bad token gets a fresh session
            assert session_of(assistant, session["token"])
            await _receive(ws, "history")
            await ws.send(json.dumps({"type": "message", "text": ""}))
            assert "characters" in (await _receive(ws, "error"))["error"]
            await ws.send(json.dumps({"type": "message", "text": "hi", "id": "m1"}))
            assert (await _receive(ws, "bot"))["text"]

    run(scenario())


@pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                    reason="Debian's chromium is not installed (make test installs it)")
def test_the_page_in_a_real_browser(assistant):
    from playwright.sync_api import expect, sync_playwright

    page_url = f"{assistant.base_url}/webhooks/webchat/"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(page_url)
        expect(page.locator("#status")).to_have_text("online")
        page.fill("#text", "hello")
        page.press("#text", "Enter")
        expect(page.locator(".msg--bot").first).to_contain_text("Kestrel Mobile assistant")
        for gibberish in ("xqzv blorptang wuggle", "fnord zibble quaxx"):
            answered = page.locator(".msg--bot").count()
            page.fill("#text", gibberish)
            page.press("#text", "Enter")
            expect(page.locator(".msg--bot")).not_to_have_count(answered)
        before = page.locator(".msg--bot").count()
        # The offer of a person follows the second misunderstood turn.
        page.get_by_role("button", name="No, I'll keep trying").click()
        expect(page.locator(".msg--customer .msg__text").last).to_have_text("No, I'll keep trying")
        expect(page.locator(".msg--bot")).not_to_have_count(before)  # answered
        # Markup typed by a customer is shown as text, whatever the assistant makes of it (it
        # comes after the offer so that its meaning, which the model decides, cannot move it).
        answered = page.locator(".msg--bot").count()
        page.fill("#text", "<b>hello</b> there")
        page.press("#text", "Enter")
        expect(page.locator(".msg--bot")).not_to_have_count(answered)
        assert page.locator(".chat__log b").count() == 0
        expect(page.locator(".msg--customer .msg__text").last).to_have_text("<b>hello</b> there")
        stored = "localStorage.getItem('switchboard.webchat.token')"
        session = session_of(assistant, page.evaluate(stored))  # a signed token, not an id
        # Rasa saves a turn after sending its reply: reload once the last turn is in the tracker.
        deadline = time.monotonic() + 20
        while not any(e["event"] == "user" and e.get("text") == "<b>hello</b> there"
                      for e in assistant.tracker(f"webchat:{session}")["events"]):
            assert time.monotonic() < deadline, "the last turn never reached the tracker"
            time.sleep(0.2)
        assert any(e["event"] == "user" and e.get("text", "").startswith("/deny")
                   for e in assistant.tracker(f"webchat:{session}")["events"])
        answered = page.locator(".msg--bot").count()
        page.reload()
        expect(page.locator("#status")).to_have_text("online")
        assert session_of(assistant, page.evaluate(stored)) == session
        expect(page.locator(".msg--customer .msg__text").nth(3)).to_have_text(
            "No, I'll keep trying")
        expect(page.locator(".msg--customer .msg__text").last).to_have_text("<b>hello</b> there")
        assert page.locator(".chat__log b").count() == 0
        expect(page.locator(".msg--bot")).to_have_count(answered)  # the history, all of it
        browser.close()


def test_each_message_is_acknowledged_and_a_resent_one_is_answered_once(assistant):
    """The widget resends what the server did not acknowledge (a dropped socket, a server that
    died mid-message) under the same id: the first time it is answered and acknowledged, the
    resend only acknowledged."""
    message = {"type": "message", "text": "what apn do I need", "id": uuid.uuid4().hex}

    async def send(token: str | None) -> tuple[str, list[dict]]:
        async with websockets.connect(socket_url(assistant)) as ws:
            await ws.send(json.dumps({"type": "hello", "token": token}))
            token = (await _receive(ws, "session"))["token"]
            await _receive(ws, "history")
            await ws.send(json.dumps(message))
            frames = []
            while not frames or frames[-1]["type"] != "ack":
                frames.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
            return token, frames

    token, first = run(send(None))
    assert [f["type"] for f in first if f["type"] in ("bot", "ack")][-1] == "ack"
    assert any(f["type"] == "bot" and "APN" in f["text"].upper() for f in first)
    assert first[-1] == {"type": "ack", "id": message["id"]}
    _, again = run(send(token))  # reconnected, the same message again
    assert [f for f in again if f["type"] != "typing"] == [  # no second answer
        {"type": "ack", "id": message["id"]}]


@pytest.mark.parametrize("bad_id", ["", "x" * 129, 7, None])
def test_a_message_without_a_usable_id_is_refused_not_answered_under_a_made_up_one(
        assistant, bad_id):
    """A made-up id was acknowledged instead of the client's, so the widget could never forget
    the message and every resend was answered again."""
    async def send_twice() -> list[dict]:
        frames = []
        async with websockets.connect(socket_url(assistant)) as ws:
            await ws.send(json.dumps({"type": "hello", "token": None}))
            await _receive(ws, "history")
            for _ in range(2):
                await ws.send(json.dumps({"type": "message", "text": "hi", "id": bad_id}))
                frames.append(await _receive(ws, "error"))
            with pytest.raises(asyncio.TimeoutError):
                frames.append(await _receive(ws, "bot", timeout=2))
        return frames

    frames = run(send_twice())
    assert all("'id'" in f["error"] for f in frames)


def test_a_refused_text_is_named_by_its_id_so_the_widget_stops_resending_it(assistant):
    async def send() -> dict:
        async with websockets.connect(socket_url(assistant)) as ws:
            await ws.send(json.dumps({"type": "hello", "token": None}))
            await _receive(ws, "history")
            await ws.send(json.dumps({"type": "message", "text": "\u0001\u0002", "id": "c-1"}))
            return await _receive(ws, "error")

    assert run(send())["id"] == "c-1"  # control characters only: nothing was said
