"""Outbound SMS through one gateway interface, usable from any process.

``SMS_GATEWAY=outbox`` (the default): messages go to a local outbox file,
``var/sms-outbox.jsonl``, that ``switchboard outbox`` prints and the tests read. ``twilio``:
Twilio's Messages API (``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, ``TWILIO_FROM``;
``TWILIO_API_URL`` points elsewhere for tests).
"""

from __future__ import annotations

import base64
import fcntl
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Protocol

from switchboard.settings import Settings


class SmsError(RuntimeError):
    """The gateway did not take the message (the text is never in the message)."""


class SmsGateway(Protocol):
    def send(self, to: str, body: str) -> None: ...


class OutboxGateway:
    """Appends each message as a JSON line to a file: the embedded default and the tests'."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, to: str, body: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"to": to, "body": body, "sent_at": time.time()}) + "\n"
        with self.path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # several processes may send at once
            handle.write(line)

    def messages(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


class TwilioGateway:
    """Twilio's REST API: POST /2010-04-01/Accounts/{sid}/Messages.json with basic auth."""

    def __init__(self, account_sid: str, auth_token: str, from_number: str,
                 api_url: str = "https://api.twilio.com") -> None:
        self.account_sid, self.auth_token, self.from_number = account_sid, auth_token, from_number
        self.api_url = api_url.rstrip("/")

    def send(self, to: str, body: str) -> None:
        url = f"{self.api_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        data = urllib.parse.urlencode({"To": _e164(to), "From": self.from_number,
                                       "Body": body}).encode()
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        request = urllib.request.Request(url, data=data, method="POST", headers={
            "Authorization": f"Basic {credentials}",
            "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
        except (urllib.error.URLError, TimeoutError) as exc:
            raise SmsError(f"Twilio did not accept the message: {type(exc).__name__}") from exc


def sms_gateway(settings: Settings) -> SmsGateway:
    if settings.sms_gateway == "twilio":
        if not (settings.twilio_account_sid and settings.twilio_auth_token
                and settings.twilio_from):
            raise SmsError("SMS_GATEWAY=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
                           "TWILIO_FROM")
        return TwilioGateway(settings.twilio_account_sid, settings.twilio_auth_token,
                             settings.twilio_from, settings.twilio_api_url)
    return OutboxGateway(outbox_path(settings))


def outbox_path(settings: Settings) -> Path:
    return settings.data_dir / "sms-outbox.jsonl"


def _e164(msisdn: str) -> str:
    return msisdn if msisdn.startswith("+") else f"+{msisdn}"
