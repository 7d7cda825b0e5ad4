"""One-time codes, the brute-force lockout (real Redis), and the SMS gateways: Twilio's (against
tests/fake_twilio.py, which answers with Twilio's resources and error bodies) and the outbox."""

from __future__ import annotations

import base64
import time
import uuid

import pytest

from switchboard.redis_client import redis_client
from switchboard.settings import Settings
from switchboard.sms import OutboxGateway, SmsError, TwilioGateway, sms_gateway
from tests.fake_twilio import FakeTwilio, error_body
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


ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "auth-token"


@pytest.fixture
def twilio_api():
    """A Twilio of this test's own (the stack has another)."""
    server = FakeTwilio(ACCOUNT, TOKEN)
    yield server
    server.stop()


def gateway(api: FakeTwilio, waits: list[float] | None = None) -> TwilioGateway:
    sleep = waits.append if waits is not None else (lambda _: None)
    return TwilioGateway(ACCOUNT, TOKEN, "+447700900999", api_url=api.url,
                         whatsapp_from="whatsapp:+447700900998", sleep=sleep)


def test_twilio_gateway_sends_with_twilios_request_format(twilio_api):
    sid = gateway(twilio_api).send("447700900001", "Kestrel Mobile: your code is 123456.")
    [request] = twilio_api.requests
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert request["authorization"] == "Basic " + base64.b64encode(
        f"{ACCOUNT}:{TOKEN}".encode()).decode()
    assert request["form"] == {"To": "+447700900001", "From": "+447700900999",
                               "Body": "Kestrel Mobile: your code is 123456."}
    assert request["status"] == 201 and sid == twilio_api.messages[0]["sid"]


def test_whatsapp_goes_between_whatsapp_addresses_from_its_own_sender(twilio_api):
    gateway(twilio_api).send("whatsapp:447700900001", "Hello")
    [request] = twilio_api.requests
    assert (request["form"]["To"], request["form"]["From"]) == (
        "whatsapp:+447700900001", "whatsapp:+447700900998")
    without = TwilioGateway(ACCOUNT, TOKEN, "+447700900999", api_url=twilio_api.url)
    with pytest.raises(SmsError) as error:  # TWILIO_FROM cannot be the WhatsApp sender
        without.send("whatsapp:447700900001", "Hello")
    assert error.value.verdict == "undelivered" and not error.value.transient


@pytest.mark.parametrize("code, verdict", [
    (21610, "opted_out"), (21211, "undeliverable"), (21614, "undeliverable"),
    (63016, "undelivered"), (21617, "undelivered"),
])
def test_a_refusal_carries_twilios_code_and_status_and_never_the_text(twilio_api, code,
                                                                       verdict):
    twilio_api.fail_next("447700900001", code)
    with pytest.raises(SmsError) as error:
        gateway(twilio_api).send("447700900001", "your code is 654321")
    assert (error.value.code, error.value.status) == (code, error_body(code)["status"])
    assert error.value.verdict == verdict and error.value.reason == f"twilio {code}"
    assert "654321" not in str(error.value)
    assert len(twilio_api.requests) == 1  # a permanent refusal is not retried


def test_too_many_requests_waits_as_long_as_twilio_says(twilio_api):
    twilio_api.fail_next("447700900001", 20429, 20429, retry_after=2)
    waits: list[float] = []
    gateway(twilio_api, waits).send("447700900001", "hello")
    assert waits == [2.0, 2.0] and [r["status"] for r in twilio_api.requests] == [429, 429, 201]


def test_a_5xx_is_retried_with_backoff_then_given_up(twilio_api):
    twilio_api.fail_next("447700900001", 20503, 20500, 20503)
    waits: list[float] = []
    with pytest.raises(SmsError) as error:
        gateway(twilio_api, waits).send("447700900001", "hello")
    assert waits == [1.0, 2.0] and len(twilio_api.requests) == 3
    assert error.value.verdict == "transient" and error.value.status == 503


def test_a_retry_after_too_long_to_wait_is_not_waited_for(twilio_api):
    twilio_api.fail_next("447700900001", 20429, retry_after=60)
    waits: list[float] = []
    with pytest.raises(SmsError) as error:
        gateway(twilio_api, waits).send("447700900001", "hello")
    assert waits == [] and error.value.retry_after == 60.0 and error.value.transient


def test_no_answer_from_twilio_is_transient():
    closed = TwilioGateway(ACCOUNT, TOKEN, "+447700900999", api_url="http://127.0.0.1:9",
                           sleep=lambda _: None)
    with pytest.raises(SmsError) as error:
        closed.send("447700900001", "hello")
    assert error.value.no_answer and error.value.verdict == "transient"
    assert error.value.reason == "no answer from Twilio"


def test_the_outbox_keeps_one_time_codes_masked(tmp_path):
    outbox = OutboxGateway(tmp_path / "sms-outbox.jsonl")
    outbox.send("447700900001", "Kestrel Mobile: your verification code is 123456. It expires "
                                "in 5 minutes. Never share it with anyone.")
    outbox.send("447700900001", "Your plan changes on Monday.")
    [code, notice] = outbox.messages()
    assert "123456" not in (tmp_path / "sms-outbox.jsonl").read_text()
    assert "verification code is [redacted]" in code["body"]
    assert notice["body"] == "Your plan changes on Monday."


def test_the_outbox_is_the_default_gateway(tmp_path):
    settings = Settings.from_env({"SWITCHBOARD_DATA_DIR": str(tmp_path)})
    assert isinstance(sms_gateway(settings), OutboxGateway)
