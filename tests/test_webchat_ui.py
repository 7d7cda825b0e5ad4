"""The web chat as a customer sees it, in headless Chromium on the running stack: the greeting
and suggested questions, "typing..." while the assistant works, a time on every message, the
line when an agent joins (their first name on their messages) and when the chat returns to the
assistant, the state when the connection drops and comes back (through a proxy the test cuts),
and the one-tag embed (launcher, panel, operator's name and colour, focus trap, Esc, a phone
screen). axe-core finds no serious or critical violation. Screenshots: reports/screenshots/."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import socket
import threading
import time
import urllib.parse

import pytest

from bot.channels.webchat import session_from_token
from handoff import queue
from processes.ports import free_port
from tests.test_console import CHROMIUM, csrf_of, fetch
from tests.test_console import log_in as console_login
from tests.test_console_ui import AXE, assert_accessible, axe_violations, drain, shot

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                reason="Debian's chromium is not installed (make test does)")
ASK = "I want to speak to a real person"
PHONE = {"width": 390, "height": 844}


class CuttableProxy:
    """A TCP proxy to the Rasa server whose connections the test can cut (and refuse for a
    while): what a customer's flaky mobile network does to the socket."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.port = free_port()
        self.refusing = False
        self.sockets: list[socket.socket] = []
        self.server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if self.refusing:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.refusing = True
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self.sockets = []

    def restore(self) -> None:
        self.refusing = False

    def close(self) -> None:
        self.cut()
        self.server.close()


def rasa_port(assistant) -> int:
    return urllib.parse.urlsplit(assistant.base_url).port


def test_greeting_typing_times_agent_joins_and_leaves(assistant, console, browser):
    from playwright.sync_api import expect

    drain(assistant)
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{assistant.base_url}/webhooks/webchat/")
    expect(page.locator("#status")).to_have_text("online")
    expect(page.locator(".msg--greeting")).to_contain_text("Kestrel Mobile assistant")
    expect(page.locator(".suggestions button")).to_have_count(4)
    assert_accessible(page, "web chat greeting")
    shot(page, "webchat-greeting")

    page.click(".suggestions button:has-text('roaming')")  # a suggested question
    expect(page.locator(".msg--customer .msg__text")).to_have_text(
        ["How much is roaming in France?"])
    expect(page.locator(".msg--bot")).to_have_count(1)
    expect(page.locator("#typing")).to_be_hidden()
    assert page.evaluate("() => Number(document.body.dataset.typingShown || 0)") >= 1
    for stamp in page.locator(".msg .msg__time").all_inner_texts():
        assert any(c.isdigit() for c in stamp)  # a time on every message

    page.fill("#text", ASK)
    page.press("#text", "Enter")
    expect(page.locator(".chat__log")).to_contain_text("You're next")
    token = page.evaluate("() => localStorage.getItem('switchboard.webchat.token')")
    sender = f"webchat:{session_from_token(assistant.settings, token)}"

    tom, _, _ = console_login(console, "tom", "kestrel-tom-demo")
    csrf = csrf_of(fetch(tom, f"{console}/")[2])
    status, headers, _ = fetch(tom, f"{console}/take", {"csrf": csrf})
    assert status == 302 and queue.owner(assistant.redis(), sender) == "agent:tom"
    expect(page.locator(".system")).to_contain_text(["Tom joined the chat"])
    chat = f"{console}/chat/{urllib.parse.quote(sender, safe='')}"
    assert fetch(tom, f"{chat}/reply", {"csrf": csrf, "text": "Hello, Tom here."})[0] == 302
    agent = page.locator(".msg--agent").last
    expect(agent.locator(".msg__text")).to_have_text("Hello, Tom here.")
    expect(agent.locator(".msg__who")).to_have_text("Tom")
    assert_accessible(page, "web chat with an agent")
    shot(page, "webchat-agent")

    assert fetch(tom, f"{chat}/return", {"csrf": csrf})[0] == 302
    expect(page.locator(".system").last).to_contain_text("back with the assistant")
    expect(page.locator(".msg--bot").last).to_contain_text("back with the Kestrel Mobile")
    page.context.close()


def test_the_widget_shows_a_dropped_connection_and_its_return(assistant, browser):
    from playwright.sync_api import expect

    proxy = CuttableProxy(rasa_port(assistant))
    try:
        page = browser.new_context().new_page()
        page.goto(f"http://127.0.0.1:{proxy.port}/webhooks/webchat/")
        expect(page.locator("#status")).to_have_text("online")
        expect(page.locator("#banner")).to_be_hidden()
        proxy.cut()
        expect(page.locator("#status")).to_have_text("reconnecting…")
        expect(page.locator("#banner")).to_contain_text("Connection lost")
        page.fill("#text", "hello")  # written while offline: sent on the way back
        page.press("#text", "Enter")
        shot(page, "webchat-offline")
        time.sleep(1.0)
        proxy.restore()
        expect(page.locator("#status")).to_have_text("online", timeout=20_000)
        expect(page.locator("#banner")).to_contain_text("Connected again")
        expect(page.locator(".msg--bot")).to_have_count(1, timeout=20_000)  # the answer
        page.context.close()
    finally:
        proxy.close()


@pytest.fixture
def host_site(assistant, tmp_path):
    """Some other site (another origin) with the one-tag embed on it."""
    (tmp_path / "index.html").write_text(f"""<!doctype html><html lang="en"><head>
<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>An operator's site</title></head><body><main><h1>Kestrel Mobile</h1>
<p>Plans, phones and help.</p><a href="#top">Top</a></main>
<script src="{assistant.base_url}/webhooks/webchat/static/embed.js"
        data-name="Kestrel Help" data-color="#7a1fa2" defer></script></body></html>""")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_embed_snippet_puts_the_widget_on_any_site(assistant, browser, host_site, size):
    from playwright.sync_api import expect

    viewport = PHONE if size == "phone" else {"width": 1280, "height": 800}
    page = browser.new_context(viewport=viewport).new_page()
    page.goto(host_site)
    launcher = page.locator("#switchboard-webchat-launcher")
    expect(launcher).to_have_attribute("aria-label", "Chat with Kestrel Help")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    launcher.focus()
    page.keyboard.press("Enter")  # the keyboard opens it
    panel = page.locator("#switchboard-webchat-panel")
    expect(panel).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    chat = page.frame_locator("#switchboard-webchat-panel iframe")
    expect(chat.locator("#chat-name")).to_have_text("Kestrel Help")
    expect(chat.locator("#status")).to_have_text("online")
    expect(chat.locator(".msg--greeting")).to_contain_text("Kestrel Mobile assistant")
    expect(chat.locator("#text")).to_be_focused()
    box = panel.bounding_box()
    if size == "phone":
        assert box["width"] == PHONE["width"] and box["height"] == PHONE["height"]
    else:
        assert box["width"] == 380
    colour = chat.locator(".chat__header").evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(122, 31, 162)"

    frame = page.frame(url=lambda url: "/webhooks/webchat/" in url)
    for _ in range(12):  # Tab never leaves the open panel
        page.keyboard.press("Tab")
        assert frame.evaluate("() => document.activeElement.closest('#chat') !== null")
    assert axe_violations(page) == []
    frame.evaluate(AXE.read_text())
    inside = frame.evaluate("""async () => (await axe.run(document, {resultTypes: ["violations"]}))
        .violations.filter(v => ["serious", "critical"].includes(v.impact)).map(v => v.id)""")
    assert inside == []
    shot(page, f"webchat-embed-{size}")

    page.keyboard.press("Escape")  # closes, and the focus is back on the launcher
    expect(panel).to_be_hidden()
    expect(launcher).to_be_focused()
    page.context.close()
