"""Outbound SMS and WhatsApp through one gateway interface, usable from any process.

``SMS_GATEWAY=outbox`` (the default): messages go to a local outbox file, ``var/sms-outbox.jsonl``,
that ``switchboard outbox`` prints. Bodies are kept there with secrets masked
(``contacts.masking``): a one-time code never rests in a file in clear (issue 12).

``SMS_GATEWAY=twilio``: Twilio's Messages API (``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``,
``TWILIO_FROM`` for SMS, ``TWILIO_WHATSAPP_FROM`` for WhatsApp; ``TWILIO_API_URL`` points
elsewhere for tests). A refusal is an ``SmsError`` carrying Twilio's own error ``code`` and the
HTTP ``status``, classified by ``SmsError.verdict`` (Twilio's error dictionary,
https://www.twilio.com/docs/api/errors): transient ones (HTTP 429 and 5xx, Twilio 20429, no
answer at all) are retried here with backoff, honouring ``Retry-After``; the rest say what the
caller should record: the recipient opted out, the address is undeliverable, or only this
message could not go.
"""

from __future__ import annotations

import base64
import fcntl
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from contacts.masking import mask_secrets
from switchboard import metrics
from switchboard.settings import Settings

# Twilio error codes by what they mean for the recipient (https://www.twilio.com/docs/api/errors).
OPTED_OUT_CODES = frozenset({21610})  # "Attempt to send to unsubscribed recipient" (STOP)
UNDELIVERABLE_CODES = frozenset({
    21211,  # Invalid 'To' phone number
    21217,  # Phone number does not appear to be valid
    21401,  # Invalid phone number
    21612,  # The 'To' phone number is not currently reachable via SMS
    21614,  # 'To' number is not a valid mobile number
    63003,  # WhatsApp: channel could not find the To address (not on WhatsApp)
})
TRANSIENT_CODES = frozenset({
    14107,  # Message rate limit exceeded
    20429,  # Too many requests
    20500,  # Internal server error
    20503,  # Service unavailable
    63018,  # WhatsApp: rate limit exceeded for the channel
})
# Sending runs inside Twilio's own webhook request (which Twilio gives up on after 15 seconds,
# error 11200), so retries are few and short.
RETRY_WAITS = (1.0, 2.0)  # seconds before the 2nd and 3rd attempt when Twilio names no wait
MAX_RETRY_AFTER = 5.0  # seconds: a longer Retry-After is not waited for (recorded undelivered)
TIMEOUT = 10.0  # seconds for one request to Twilio


class SmsError(RuntimeError):
    """The gateway did not take the message (the text is never in the error).

    ``code``: Twilio's error code (21610, 21211, 20429, ...), None when Twilio never answered or
    the gateway is misconfigured; ``status``: the HTTP status of Twilio's answer;
    ``retry_after``: seconds Twilio asked us to wait (``Retry-After``), if it did;
    ``no_answer``: Twilio could not be reached or did not answer in time.
    """

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None,
                 retry_after: float | None = None, no_answer: bool = False) -> None:
        super().__init__(message)
        self.code, self.status, self.retry_after = code, status, retry_after
        self.no_answer = no_answer

    @property
    def transient(self) -> bool:
        """Worth trying again: too many requests, Twilio's 5xx, or no answer at all."""
        return (self.no_answer or self.code in TRANSIENT_CODES or self.status == 429
                or (self.status or 0) >= 500)

    @property
    def verdict(self) -> str:
        """``transient``, ``opted_out`` (the recipient unsubscribed), ``undeliverable`` (Twilio
        refuses the address) or ``undelivered`` (only this message: e.g. 63016, outside
        WhatsApp's 24-hour window; or our own account's configuration)."""
        if self.transient:
            return "transient"
        if self.code in OPTED_OUT_CODES:
            return "opted_out"
        if self.code in UNDELIVERABLE_CODES:
            return "undeliverable"
        return "undelivered"

    @property
    def reason(self) -> str:
        """A short label without the text, for records and logs: ``twilio 21610``,
        ``twilio HTTP 503``, ``no answer from Twilio``, ``misconfigured``."""
        if self.code is not None:
            return f"twilio {self.code}"
        if self.status is not None:
            return f"twilio HTTP {self.status}"
        return "no answer from Twilio" if self.no_answer else "misconfigured"


class SmsGateway(Protocol):
    def send(self, to: str, body: str) -> str | None: ...


class OutboxGateway:
    """Appends each message as a JSON line to a file, its body masked: the embedded default."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, to: str, body: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"to": to, "body": mask_secrets(body), "sent_at": time.time()}) + "\n"
        with self.path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # several processes may send at once
            handle.write(line)

    def messages(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


class TwilioGateway:
    """Twilio's REST API: ``POST /2010-04-01/Accounts/{sid}/Messages.json`` with basic auth.

    ``to`` is ``447700900001`` (SMS, sent from ``sms_from``) or ``whatsapp:447700900001``
    (WhatsApp: ``To=whatsapp:+44...`` from ``whatsapp_from``, Twilio's channel address form).
    """

    def __init__(self, account_sid: str, auth_token: str, sms_from: str | None,
                 api_url: str = "https://api.twilio.com", whatsapp_from: str | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        self.sms_from, self.whatsapp_from = sms_from, whatsapp_from
        self.api_url, self.sleep = api_url.rstrip("/"), sleep

    def send(self, to: str, body: str) -> str | None:
        """Send one message; Twilio's message sid. Transient refusals are retried (waits in
        ``RETRY_WAITS``, or Twilio's ``Retry-After`` up to ``MAX_RETRY_AFTER`` seconds); the
        last refusal is raised as ``SmsError``."""
        form = self._form(to, body)
        for backoff in RETRY_WAITS:
            try:
                return self._post(form)
            except SmsError as error:
                wait = error.retry_after if error.retry_after is not None else backoff
                if not error.transient or wait > MAX_RETRY_AFTER:
                    raise
                self.sleep(wait)
        return self._post(form)  # the last attempt: its refusal is the caller's

    def _form(self, to: str, body: str) -> dict[str, str]:
        if to.startswith("whatsapp:"):
            if not self.whatsapp_from:
                raise SmsError("misconfigured: a WhatsApp reply needs TWILIO_WHATSAPP_FROM")
            return {"To": _whatsapp(to), "From": _whatsapp(self.whatsapp_from), "Body": body}
        if not self.sms_from:
            raise SmsError("misconfigured: an SMS needs TWILIO_FROM")
        return {"To": _e164(to), "From": self.sms_from, "Body": body}

    def _post(self, form: dict[str, str]) -> str | None:
        url = f"{self.api_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        request = urllib.request.Request(
            url, data=urllib.parse.urlencode(form).encode(), method="POST",
            headers={"Authorization": f"Basic {credentials}",
                     "Content-Type": "application/x-www-form-urlencoded"})
        channel = "whatsapp" if form.get("To", "").startswith("whatsapp:") else "sms"
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            refusal = _refusal(exc)
            metrics.provider_error(channel, refusal.code or refusal.status)
            raise refusal from exc
        except (urllib.error.URLError, http.client.HTTPException, TimeoutError,
                ConnectionError) as exc:  # HTTPException: a cut-off answer (IncompleteRead)
            metrics.provider_error(channel, "network")
            raise SmsError(f"no answer from Twilio: {type(exc).__name__}",
                           no_answer=True) from exc
        try:  # a 2xx is a message Twilio took, whatever its body says
            return json.loads(body or b"{}").get("sid")
        except (ValueError, AttributeError):
            return None


def _refusal(exc: urllib.error.HTTPError) -> SmsError:
    """Twilio's error answer (``{"code": 21610, "message": ..., "more_info": ..., "status":
    400}``) as an SmsError; a body that is not Twilio's JSON keeps only the HTTP status."""
    try:
        answer = json.loads(exc.read() or b"{}")
    except ValueError:
        answer = {}
    code = answer.get("code") if isinstance(answer, dict) else None
    message = answer.get("message") if isinstance(answer, dict) else None
    return SmsError(f"Twilio refused the message: {message or exc.reason}",
                    code=code if isinstance(code, int) else None, status=exc.code,
                    retry_after=_seconds(exc.headers.get("Retry-After")))


def _seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds (RFC 9110 also allows an HTTP date: then None, our backoff)."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def sms_gateway(settings: Settings) -> SmsGateway:
    """The configured gateway. ``TWILIO_FROM=whatsapp:+44...`` (before TWILIO_WHATSAPP_FROM
    existed) still names a WhatsApp-only sender."""
    if settings.sms_gateway != "twilio":
        return OutboxGateway(outbox_path(settings))
    sms_from, whatsapp_from = settings.twilio_from, settings.twilio_whatsapp_from
    if sms_from and sms_from.startswith("whatsapp:"):
        sms_from, whatsapp_from = None, whatsapp_from or sms_from
    if not (settings.twilio_account_sid and settings.twilio_auth_token
            and (sms_from or whatsapp_from)):
        raise SmsError("misconfigured: SMS_GATEWAY=twilio needs TWILIO_ACCOUNT_SID, "
                       "TWILIO_AUTH_TOKEN and TWILIO_FROM or TWILIO_WHATSAPP_FROM")
    return TwilioGateway(settings.twilio_account_sid, settings.twilio_auth_token, sms_from,
                         settings.twilio_api_url, whatsapp_from)


def outbox_path(settings: Settings) -> Path:
    return settings.data_dir / "sms-outbox.jsonl"


def _e164(msisdn: str) -> str:
    return msisdn if msisdn.startswith("+") else f"+{msisdn}"


def _whatsapp(address: str) -> str:
    """``whatsapp:+447700900001`` from ``whatsapp:447700900001``, ``+44...`` or ``44...``."""
    return "whatsapp:" + _e164(address.removeprefix("whatsapp:").strip())
