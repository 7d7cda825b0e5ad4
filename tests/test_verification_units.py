"""One-time codes, the brute-force lockout (real Redis) and the Twilio SMS gateway (a local
stand-in for Twilio's API, speaking its request format)."""

from __future__ import annotations

import base64
import http.server
import threading
import time
import urllib.parse
import uuid

import pytest

from switchboard.redis_client import redis_client
from switchboard.sms import SmsError, TwilioGateway
from verification import attempts, codes

KEY = "test-secret-key"


@pytest.fixture
def client(redis_settings):
    return redis_client(redis_settings)


@pytest.fixture
def msisdn() -> str:
    return f"44770{uuid.uuid4().int % 10**7:07d}"


def test_a_code_is_six_digits_stored_only_as_a_keyed_digest(client, msisdn):
    code = codes.issue_code(client, KEY, msisdn)
    assert len(code) == 6 and code.isdigit()
    stored = client.get(f"switchboard:otp:{msisdn}")
    assert code not in stored and len(stored) == 64
    assert 290 <= client.ttl(f"switchboard:otp:{msisdn}") <= 300  # five minutes


def test_a_code_works_once_and_only_for_its_number(client, msisdn):
    code = codes.issue_code(client, KEY, msisdn)
    assert not codes.consume_code(client, KEY, "447000000000", code)
    assert not codes.consume_code(client, KEY, msisdn, f"{(int(code) + 1) % 10**6:06d}")
    assert codes.consume_code(client, KEY, msisdn, f" {code[:3]} {code[3:]} ")
    assert not codes.consume_code(client, KEY, msisdn, code)


def test_a_new_code_replaces_the_old_and_expired_codes_fail(client, msisdn, monkeypatch):
    # The random draws are fixed so the old and the new code differ (1 in a million they would
    # not, and then nothing here could tell "replaced" from "kept").
    draws = iter([111_111, 222_222, 333_333])
    monkeypatch.setattr(codes.secrets, "randbelow", lambda _: next(draws))
    old = codes.issue_code(client, KEY, msisdn)
    new = codes.issue_code(client, KEY, msisdn)
    assert (old, new) == ("111111", "222222")
    assert not codes.consume_code(client, KEY, msisdn, old)  # replaced: the old one is dead
    assert codes.consume_code(client, KEY, msisdn, new)  # and the new one works
    expiring = codes.issue_code(client, KEY, msisdn)
    client.delete(f"switchboard:otp:{msisdn}")  # what expiry does after five minutes
    assert not codes.consume_code(client, KEY, msisdn, expiring)


def test_five_failures_in_the_window_lock_the_number(client, msisdn):
    now = time.time()
    for n in range(4):
        assert attempts.record_failure(client, msisdn, now + n, uuid.uuid4().hex) == n + 1
        assert not attempts.is_locked(client, msisdn)
    assert attempts.failures_left(client, msisdn, now + 5) == 1
    attempts.record_failure(client, msisdn, now + 5, uuid.uuid4().hex)
    assert attempts.is_locked(client, msisdn)
    assert 890 <= attempts.lock_remaining_seconds(client, msisdn) <= 900


def test_failures_older_than_the_window_do_not_count(client, msisdn):
    start = time.time() - 3600
    for n in range(4):
        attempts.record_failure(client, msisdn, start + n, uuid.uuid4().hex)
    attempts.record_failure(client, msisdn, time.time(), uuid.uuid4().hex)
    assert not attempts.is_locked(client, msisdn)


class FakeTwilio(http.server.BaseHTTPRequestHandler):
    requests: list[dict] = []
    status = 201

    def do_POST(self):  # noqa: N802 (the stdlib's name)
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        FakeTwilio.requests.append({"path": self.path, "auth": self.headers["Authorization"],
                                    "form": dict(urllib.parse.parse_qsl(body))})
        self.send_response(FakeTwilio.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"sid": "SM123", "status": "queued"}')

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_twilio():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeTwilio)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeTwilio.requests, FakeTwilio.status = [], 201
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_twilio_gateway_sends_with_twilios_request_format(fake_twilio):
    gateway = TwilioGateway("AC0123", "auth-token", "+447700900999", api_url=fake_twilio)
    gateway.send("447700900001", "Kestrel Mobile: your code is 123456.")
    [request] = FakeTwilio.requests
    assert request["path"] == "/2010-04-01/Accounts/AC0123/Messages.json"
    assert request["auth"] == "Basic " + base64.b64encode(b"AC0123:auth-token").decode()
    assert request["form"] == {"To": "+447700900001", "From": "+447700900999",
                               "Body": "Kestrel Mobile: your code is 123456."}


def test_twilio_refusal_is_an_sms_error_without_the_text(fake_twilio):
    FakeTwilio.status = 400
    gateway = TwilioGateway("AC0123", "auth-token", "+447700900999", api_url=fake_twilio)
    with pytest.raises(SmsError) as error:
        gateway.send("447700900001", "your code is 654321")
    assert "654321" not in str(error.value)
