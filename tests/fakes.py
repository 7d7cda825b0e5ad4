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
FAKE_BOT_USERNAME = "kestrel_test_bot"


# --- Telegram's error answers (Bot API "Making requests": ``ok: false``, ``error_code`` is also
# the HTTP status, ``description``, and ``parameters`` (ResponseParameters) where it applies) ---

def telegram_error(code: int, description: str, **parameters: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


def too_many_requests(retry_after: int) -> dict[str, Any]:
    """Flood control: wait ``retry_after`` seconds."""
    return telegram_error(429, f"Too Many Requests: retry after {retry_after}",
                          retry_after=retry_after)


def group_migrated(new_chat_id: int) -> dict[str, Any]:
    """The group became a supergroup with a new id."""
    return telegram_error(400, "Bad Request: group chat was upgraded to a supergroup chat",
                          migrate_to_chat_id=new_chat_id)


BOT_BLOCKED = telegram_error(403, "Forbidden: bot was blocked by the user")
USER_DEACTIVATED = telegram_error(403, "Forbidden: user is deactivated")
KICKED_FROM_SUPERGROUP = telegram_error(403, "Forbidden: bot was kicked from the supergroup chat")
CHAT_NOT_FOUND = telegram_error(400, "Bad Request: chat not found")
QUERY_TOO_OLD = telegram_error(400, "Bad Request: query is too old and response timeout expired "
                                    "or query ID is invalid")
BAD_GATEWAY = telegram_error(502, "Bad Gateway")
GET_UPDATES_CONFLICT = telegram_error(409, "Conflict: terminated by other getUpdates request; "
                                           "make sure that only one bot instance is running")


class FakeTelegram:
    """Telegram's Bot API (``/bot<token>/<method>``) as far as our channel uses it: answers like
    Telegram and records every call the real python-telegram-bot code makes. ``fail`` queues
    Telegram's real error answers, per method (and chat)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []  # what Telegram took
        self.refused: list[tuple[str, dict[str, Any], dict[str, Any]]] = []  # and the errors
        self.updates: list[dict[str, Any]] = []  # what getUpdates hands out (polling mode)
        self._failures: list[list[Any]] = []  # [method, chat_id or None, error body, times]
        self._lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the stdlib's name)
                method = self.path.rsplit("/", 1)[-1]
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                params = fake._params(self.headers.get("Content-Type", ""), body)
                error = fake._failure(method, params)
                status, answer = (error["error_code"], error) if error else (
                    200, {"ok": True, "result": fake._result(method, params)})
                with fake._lock:
                    if error:
                        fake.refused.append((method, params, error))
                    else:
                        fake.calls.append((method, params))
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
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

    def fail(self, method: str, error: dict[str, Any], chat_id: int | None = None,
             times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` (to ``chat_id`` only, if given) with a
        Bot API error body (see ``telegram_error``)."""
        with self._lock:
            self._failures.append([method, chat_id, error, times])

    def refusals_of(self, method: str, chat_id: int | None = None) -> list[dict[str, Any]]:
        """The error bodies ``method`` was answered with (to ``chat_id``, if given)."""
        with self._lock:
            return [e for m, p, e in self.refused if m == method
                    and (chat_id is None or int(p.get("chat_id", 0)) == chat_id)]

    def _failure(self, method: str, params: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            for entry in self._failures:
                wanted, chat_id, error, _ = entry
                if wanted == method and (chat_id is None
                                         or int(params.get("chat_id", 0)) == chat_id):
                    entry[3] -= 1
                    if entry[3] <= 0:
                        self._failures.remove(entry)
                    return error
        return None

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
                    "username": FAKE_BOT_USERNAME, "can_join_groups": True,
                    "can_read_all_group_messages": False, "supports_inline_queries": False,
                    "can_connect_to_business": False, "has_main_web_app": False}
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
            chat_id = int(params.get("chat_id", 0))
            kind = "private" if chat_id > 0 else (
                "supergroup" if str(chat_id).startswith("-100") else "group")
            return {"message_id": message_id, "date": int(time.time()),
                    "from": {"id": FAKE_BOT_ID, "is_bot": True, "first_name": "Kestrel",
                             "username": FAKE_BOT_USERNAME},
                    "chat": {"id": chat_id, "type": kind}, "text": params.get("text", "")}
        return True
