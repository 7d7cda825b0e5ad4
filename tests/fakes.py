"""Stand-ins for servers the tests cannot reach, speaking their real formats."""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.parse
from typing import Any

FAKE_BOT_TOKEN = "123456:TEST-token"
FAKE_BOT_ID = 123456


class FakeTelegram:
    """Telegram's Bot API (``/bot<token>/<method>``) as far as our channel uses it: answers like
    Telegram and records every call the real python-telegram-bot code makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.updates: list[dict[str, Any]] = []  # what getUpdates hands out (polling mode)
        self._lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the stdlib's name)
                method = self.path.rsplit("/", 1)[-1]
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                params = fake._params(self.headers.get("Content-Type", ""), body)
                with fake._lock:
                    fake.calls.append((method, params))
                result = fake._result(method, params)
                data = json.dumps({"ok": True, "result": result}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped waiting (a poller shutting down mid long-poll)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()

    def sent_to(self, chat_id: int, wait: float = 10.0, count: int = 1) -> list[dict[str, Any]]:
        """sendMessage calls to this chat (waits until ``count`` arrived or ``wait`` passed)."""
        deadline = time.monotonic() + wait
        while True:
            with self._lock:
                sent = [p for m, p in self.calls
                        if m == "sendMessage" and int(p.get("chat_id", 0)) == chat_id]
            if len(sent) >= count or time.monotonic() > deadline:
                return sent
            time.sleep(0.05)

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [p for m, p in self.calls if m == method]

    @staticmethod
    def _params(content_type: str, body: str) -> dict[str, Any]:
        if "json" in content_type:
            return json.loads(body or "{}")
        params: dict[str, Any] = {}
        for key, value in urllib.parse.parse_qsl(body):
            try:
                params[key] = json.loads(value)
            except ValueError:
                params[key] = value
        return params

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return {"id": FAKE_BOT_ID, "is_bot": True, "first_name": "Kestrel",
                    "username": "kestrel_test_bot", "can_join_groups": True,
                    "can_read_all_group_messages": False, "supports_inline_queries": False}
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            with self._lock:
                pending = [u for u in self.updates if u["update_id"] >= offset]
            if not pending:
                time.sleep(0.2)  # a short long-poll
            return pending
        if method == "sendMessage":
            with self._lock:
                message_id = len(self.calls)
            return {"message_id": message_id, "date": int(time.time()),
                    "chat": {"id": int(params.get("chat_id", 0)), "type": "private"},
                    "text": params.get("text", "")}
        return True
