"""A local Twilio Messages API that answers as Twilio does, for the running stack's tests.

``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with HTTP Basic auth (the account SID
and the auth token) answers 201 with the whole Message resource Twilio documents
(https://www.twilio.com/docs/messaging/api/message-resource), or 4xx/5xx with Twilio's error body
``{"code", "message", "more_info", "status"}``: for what Twilio itself refuses (wrong
credentials, no To, From or Body, a body over 1,600 characters, a WhatsApp To from a non-WhatsApp
From, a To that is no phone number) and for errors a test queues for one recipient
(``fail_next``). Every message it accepted is kept, in order.
"""

from __future__ import annotations

import base64
import http.server
import json
import re
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

API_VERSION = "2010-04-01"
# Twilio's error dictionary (https://www.twilio.com/docs/api/errors): HTTP status and message.
ERRORS: dict[int, tuple[int, str]] = {
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource was not found"),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
    20503: (503, "Service Unavailable"),
    21211: (400, "Invalid 'To' Phone Number"),
    21602: (400, "Message body is required."),
    21603: (400, "A 'From' phone number is required."),
    21604: (400, "A 'To' phone number is required."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21614: (400, "'To' number is not a valid mobile number"),
    21617: (400, "The concatenated message body exceeds the 1600 character limit."),
    21910: (400, "Invalid From and To pair. From and To should be of the same channel"),
    63016: (400, "Failed to send freeform message because you are outside the allowed window. "
                 "If you want to send messages outside the allowed window, please use a "
                 "Message Template."),
}
_GSM = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
           "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM_EXTENSION = set("\f^{}\\[~]|€")
_SERVERS: dict[str, FakeTwilio] = {}


def error_body(code: int) -> dict[str, Any]:
    """Twilio's JSON error body for ``code``."""
    status, message = ERRORS[code]
    return {"code": code, "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


def twilio_to(address: str) -> str:
    """The ``To`` Twilio is given for one of our addresses: ``+447...`` or
    ``whatsapp:+447...`` from ``447...`` or ``whatsapp:447...``."""
    prefix = "whatsapp:" if address.startswith("whatsapp:") else ""
    number = address.removeprefix("whatsapp:")
    return prefix + (number if number.startswith("+") else f"+{number}")


def segments(body: str) -> int:
    """How many SMS segments Twilio bills for ``body``: GSM-7 septets (the extension table costs
    two) or UTF-16 units, 160/70 in one segment, 153/67 per part beyond."""
    if all(ch in _GSM or ch in _GSM_EXTENSION for ch in body):
        size, single, part = sum(2 if ch in _GSM_EXTENSION else 1 for ch in body), 160, 153
    else:
        size, single, part = len(body.encode("utf-16-le")) // 2, 70, 67
    return 1 if size <= single else -(-size // part)


@dataclass
class _Failure:
    code: int
    retry_after: int | None = None


@dataclass
class FakeTwilio:
    account_sid: str
    auth_token: str
    messages: list[dict[str, Any]] = field(default_factory=list)  # accepted, in order
    requests: list[dict[str, Any]] = field(default_factory=list)  # every POST and its status
    _failures: dict[str, list[_Failure]] = field(default_factory=dict)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        _SERVERS[self.url] = self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    @classmethod
    def at(cls, url: str) -> FakeTwilio:
        """The fake serving ``url`` (what a stack's ``TWILIO_API_URL`` says)."""
        return _SERVERS[url.rstrip("/")]

    def stop(self) -> None:
        self._server.shutdown()
        _SERVERS.pop(self.url, None)

    def fail_next(self, to: str, *codes: int, retry_after: int | None = None) -> None:
        """The next messages to ``to`` (our address or Twilio's ``To``) are refused with these
        Twilio error codes, in order (``retry_after``: a ``Retry-After`` header, seconds)."""
        with self._changed:
            self._failures.setdefault(twilio_to(to), []).extend(
                _Failure(code, retry_after) for code in codes)

    def sent_to(self, to: str, wait: float = 10.0, count: int = 1) -> list[dict[str, Any]]:
        """The messages accepted for ``to``, once there are ``count`` (or ``wait`` seconds
        passed)."""
        deadline = time.monotonic() + wait
        with self._changed:
            while True:
                found = [m for m in self.messages if m["to"] == twilio_to(to)]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    return found
                self._changed.wait(left)

    def bodies(self, to: str, wait: float = 10.0, count: int = 1) -> list[str]:
        return [m["body"] for m in self.sent_to(to, wait, count)]

    def attempts(self, to: str) -> list[int]:
        """The HTTP status of every request for ``to``, in order."""
        return [r["status"] for r in self.requests if r["form"].get("To") == twilio_to(to)]

    # --- what the server does ---

    def answer(self, path: str, authorization: str,
               form: dict[str, str]) -> tuple[int, dict, dict]:
        """(status, JSON body, extra headers) for one POST, kept before it is answered."""
        status, body, headers = self._refusal(path, authorization, form) or (
            201, self._resource(form), {})
        with self._changed:
            self.requests.append({"path": path, "form": form, "status": status,
                                  "authorization": authorization})
            if status == 201:
                self.messages.append(body)
            self._changed.notify_all()
        return status, body, headers

    def _refusal(self, path: str, authorization: str,
                 form: dict[str, str]) -> tuple[int, dict, dict] | None:
        expected = "Basic " + base64.b64encode(
            f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if authorization != expected:
            return _error(20003)
        if path != f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json":
            return _error(20404)
        to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        for code, wrong in ((21604, not to), (21603, not sender), (21602, not body),
                            (21617, len(body) > 1600),
                            (21910, to.startswith("whatsapp:") != sender.startswith("whatsapp:")),
                            (21211, not re.fullmatch(r"(whatsapp:)?\+\d{6,15}", to))):
            if wrong:
                return _error(code)
        with self._changed:
            queued = self._failures.get(to) or []
            failure = queued.pop(0) if queued else None
        if failure is None:
            return None
        headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
        return (*_error(failure.code)[:2], headers)

    def _resource(self, form: dict[str, str]) -> dict[str, Any]:
        """The Message resource Twilio answers a create with (every documented property)."""
        sid = "SM" + uuid.uuid4().hex
        now = datetime.now(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid, "api_version": API_VERSION, "body": form["Body"],
            "date_created": now, "date_sent": None, "date_updated": now,
            "direction": "outbound-api", "error_code": None, "error_message": None,
            "from": form["From"], "messaging_service_sid": None, "num_media": "0",
            "num_segments": str(segments(form["Body"])), "price": None, "price_unit": "USD",
            "sid": sid, "status": "queued",
            "subresource_uris": {"media": f"{base}/Media.json",
                                 "feedback": f"{base}/Feedback.json"},
            "to": form["To"], "uri": f"{base}.json",
        }


def _error(code: int) -> tuple[int, dict, dict]:
    body = error_body(code)
    return body["status"], body, {}


def _handler(fake: FakeTwilio) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            form = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
            status, body, headers = fake.answer(self.path, self.headers.get("Authorization", ""),
                                                form)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
