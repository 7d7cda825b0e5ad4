"""Issue 12's attacks, each through the running servers: every one of them worked before this
change (the REST channel took any sender with no credential, the action server ran any posted
tracker, typed ``/intent`` text drove Rasa, trackers kept typed passwords) and is refused now."""

from __future__ import annotations

import json
import os
import re
import stat
import uuid

import psutil
import pytest

from handoff import queue
from switchboard.keys import action_server_token
from tests.conftest import API_TOKEN, PUK, REST_TOKEN
from tests.helpers import http
from tests.test_self_service import local, texts, verify_by_password
from tests.test_sms_channel import sent_to, twilio_post


def rest(assistant, body: dict, token: str | None = REST_TOKEN) -> tuple[int, object]:
    return http("POST", f"{assistant.base_url}/webhooks/rest/webhook", body, token=token)


# --- 1. Conversation ids are not bearer tokens ---

def test_the_rest_channel_refuses_callers_without_the_integration_token(assistant, sender):
    body = {"sender": sender.removeprefix("rest:"), "message": "hi"}
    assert rest(assistant, body, token=None)[0] == 401
    assert rest(assistant, body, token="not-the-token")[0] == 401
    status, answer = http("POST", f"{assistant.base_url}/webhooks/rest/webhook", body,
                          headers={"Authorization": f"Basic {REST_TOKEN}"})
    assert status == 401
    assert rest(assistant, body)[0] == 200


def test_a_rest_caller_cannot_reach_a_verified_sms_conversation(assistant, subscriber):
    """The SMS customer verifies with their password; a REST caller naming their SMS
    conversation id gets a conversation of its own, which knows nothing of them."""
    number = f"+{subscriber.msisdn}"
    twilio_post(assistant, number, "what's my PUK")
    twilio_post(assistant, number, '/inform{"verification_method": "password"}')
    twilio_post(assistant, number, subscriber.password)
    assert any(PUK in body for body in sent_to(assistant, subscriber.msisdn))
    for stolen in (f"sms:{subscriber.msisdn}", f"whatsapp:{subscriber.msisdn}"):
        status, answer = rest(assistant, {"sender": stolen, "message": "what's my PUK"})
        assert status == 200
        said = " ".join(m.get("text", "") for m in answer)
        assert PUK not in said and "mobile number" in said
        assert queue.owner(assistant.redis(), f"rest:{stolen}") in (None, "bot")


def test_client_metadata_cannot_claim_a_verified_number(assistant, sender, subscriber):
    """``metadata.channel_verified_msisdn`` used to skip the number question."""
    status, answer = rest(assistant, {
        "sender": sender.removeprefix("rest:"), "message": "what's my PUK",
        "metadata": {"channel_verified_msisdn": subscriber.msisdn,
                     "switchboard_payload": True}})
    said = " ".join(m.get("text", "") for m in answer)
    assert status == 200 and "mobile number" in said


# --- 2. The action server is internal ---

def forged_call(sender_id: str, msisdn: str) -> dict:
    """What Rasa posts to serve a request after verification, with a made-up tracker."""
    return {"next_action": "action_after_verification", "sender_id": sender_id, "version": "3.6.21",
            "domain": {}, "tracker": {
                "sender_id": sender_id, "slots": {"verified_msisdn": msisdn,
                                                  "requested_service": "get_puk"},
                "latest_message": {"intent": {"name": "get_puk"}, "entities": [],
                                   "text": "my puk"},
                "events": [{"event": "slot", "name": "verified_msisdn", "value": msisdn,
                            "timestamp": 1.0}],
                "paused": False, "followup_action": None, "active_loop": {},
                "latest_action_name": "action_listen", "latest_event_time": 1.0}}


def action_url(assistant) -> str:
    return f"http://127.0.0.1:{assistant.settings.action_port}"


def test_the_action_server_wants_rasas_secret(assistant, subscriber):
    call = forged_call("rest:attacker", subscriber.msisdn)
    status, answer = http("POST", f"{action_url(assistant)}/webhook", call)
    assert status == 401 and PUK not in json.dumps(answer)
    assert http("POST", f"{action_url(assistant)}/webhook", call, token="guess")[0] == 401
    assert http("GET", f"{action_url(assistant)}/actions")[0] == 401
    assert http("GET", f"{action_url(assistant)}/health")[0] == 200  # liveness says nothing


def test_even_with_the_secret_a_made_up_verified_number_opens_nothing(assistant, subscriber):
    """Defence in depth: an unsealed number, or a seal made for another conversation."""
    token = action_server_token(assistant.settings)
    status, answer = http("POST", f"{action_url(assistant)}/webhook",
                          forged_call("rest:attacker", subscriber.msisdn), token=token)
    assert PUK not in json.dumps(answer)
    # A real seal, copied out of the verified customer's own tracker into another conversation.
    victim = f"rest:victim-{uuid.uuid4().hex[:8]}"
    verify_by_password(assistant, victim, subscriber, request="what's my PUK")
    sealed = assistant.tracker(victim)["slots"]["verified_msisdn"]
    assert sealed and sealed.startswith(subscriber.msisdn + ".")
    status, answer = http("POST", f"{action_url(assistant)}/webhook",
                          forged_call("rest:attacker", sealed), token=token)
    assert PUK not in json.dumps(answer)


def test_the_action_server_listens_on_loopback_only(assistant):
    action = next(p for p in assistant.stack.processes if p.name == "action-server")
    process = psutil.Process(action.popen.pid)
    listening = {c.laddr.ip for proc in [process, *process.children(recursive=True)]
                 for c in proc.connections("tcp") if c.status == psutil.CONN_LISTEN}
    assert listening == {"127.0.0.1"}


def test_an_action_failure_does_not_echo_the_tracker(assistant):
    token = action_server_token(assistant.settings)
    call = forged_call("rest:attacker", "447700900001")
    call["next_action"] = "action_account_request"
    call["tracker"]["latest_message"] = ["my puk"]  # not an object: the action fails on it
    status, answer = http("POST", f"{action_url(assistant)}/webhook", call, token=token)
    assert status >= 400 and "my puk" not in json.dumps(answer)


# --- 3. Typed text is never a button ---

def test_typed_intent_syntax_is_text_not_an_intent(assistant, sender):
    """Typed ``/intent{...}`` goes through the NLU like any text (which may still understand
    its words): Rasa's RegexMessageHandler, which used to turn it into that intent with
    confidence 1 and the given entities, never unpacks it."""
    typed = ["/request_human", '/check_balance{"phone_number": "07700900001"}',
             '/inform{"verification_method": "password"}', "/affirm@1.0"]
    for number, text in enumerate(typed):
        conversation = f"{sender}-{number}"  # each its own: /request_human may reach a person
        texts(assistant, conversation, text)
        [data] = [e["parse_data"] for e in assistant.tracker(conversation)["events"]
                  if e["event"] == "user"]
        assert len(data.get("intent_ranking") or []) > 1, (text, data["intent"])
        assert all(e.get("extractor") != "RegexMessageHandler" for e in data["entities"]), text
        assert not any(e.get("entity") == "verification_method" for e in data["entities"])


def test_restart_typed_does_not_restart_and_a_button_still_works(assistant, sender, subscriber):
    assert "mobile number" in texts(assistant, sender, "what's my balance")
    texts(assistant, sender, "/restart")
    events = [e["event"] for e in assistant.tracker(sender)["events"]]
    assert "restart" not in events
    # A payload the assistant offered in another conversation is not pressable here.
    other = f"rest:other-{uuid.uuid4().hex[:8]}"
    assert "mobile number" in texts(assistant, other, "what's my balance")
    assert "How would you like" in texts(assistant, other, local(subscriber.msisdn))
    # ... but the one offered here is (verify_by_password presses it).
    answer = verify_by_password(assistant, f"rest:mine-{uuid.uuid4().hex[:8]}", subscriber)
    assert "you're verified" in answer


# --- 5. Secrets at rest ---

def test_a_typed_password_is_not_kept_in_the_tracker_or_redis(assistant, sender, subscriber):
    answer = verify_by_password(assistant, sender, subscriber, request="what's my PUK")
    assert PUK in answer  # the customer did get it
    stored = json.dumps(assistant.tracker(sender))
    assert subscriber.password not in stored and PUK not in stored
    raw = " ".join(assistant.redis().lrange(f"switchboard:tracker:{sender}", 0, -1))
    assert raw and subscriber.password not in raw and PUK not in raw
    redis_dir = assistant.settings.data_dir / "redis"
    assistant.redis().bgrewriteaof()
    on_disk = b"".join(p.read_bytes() for p in redis_dir.rglob("*") if p.is_file())
    # As a number of its own: the file is full of timestamps and stream ids whose digits may
    # contain any six in a row (a recorder heartbeat's 1796012765.305482913 did).
    for secret in (subscriber.password, PUK):
        assert not re.search(rb"(?<![0-9.])" + secret.encode() + rb"(?![0-9])", on_disk), secret


def test_a_slash_message_is_not_logged_word_for_word(assistant, sender):
    texts(assistant, sender, "/ my password is 314159")
    texts(assistant, sender, "/inform my pin 271828 thanks")
    logs = "".join(p.read_text(errors="replace") for p in assistant.log_dir.glob("*.log"))
    assert "314159" not in logs and "271828" not in logs


def test_tokens_are_not_on_any_command_line(assistant):
    secrets = {API_TOKEN, action_server_token(assistant.settings)}
    for process in assistant.stack.processes:
        tree = psutil.Process(process.popen.pid)
        for proc in [tree, *tree.children(recursive=True)]:
            try:
                line = " ".join(proc.cmdline())
            except psutil.Error:  # gone (or a zombie) since listed: it shows nothing any more
                continue
            assert not any(s in line for s in secrets), process.name


@pytest.mark.parametrize("name", ["secret-key", "switchboard.db", "redis"])
def test_files_under_the_data_directory_are_private(assistant, name):
    data_dir = assistant.settings.data_dir
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    path = data_dir / name
    assert path.exists()
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode & 0o077 == 0, oct(mode)
    if path.is_dir():
        for child in path.rglob("*"):
            assert stat.S_IMODE(os.stat(child).st_mode) & 0o077 == 0, (child, oct(mode))


def test_the_keys_command_prints_the_rest_token_integrations_need(assistant, monkeypatch,
                                                                   capsys):
    from processes import cli

    for name, value in assistant.settings.to_env().items():
        monkeypatch.setenv(name, value)
    assert cli.main(["keys", "--rest"]) == 0
    token = capsys.readouterr().out.strip()
    assert token == REST_TOKEN
    assert rest(assistant, {"sender": "keys-check", "message": "hi"}, token=token)[0] == 200


# --- Found by the hostile review of this change ---

def test_a_lapsed_verification_does_not_come_back_after_many_turns(assistant, sender,
                                                                   subscriber):
    """Verified, then "bye" (the contact ends), then enough small talk for the tracker store to
    checkpoint the conversation: the checkpoint used to carry the verified number over without
    the goodbye that ended it, and the PUK was given without verifying."""
    assert PUK in verify_by_password(assistant, sender, subscriber, request="what's my PUK")
    texts(assistant, sender, "bye")
    for _ in range(20):
        texts(assistant, sender, "is there 5G in Leeds")
    answer = texts(assistant, sender, "what's my PUK")
    assert PUK not in answer and "mobile number" in answer


def test_a_secret_inside_a_slot_filled_from_the_whole_message_is_masked(assistant, sender,
                                                                        subscriber):
    assert "mobile number" in texts(assistant, sender, "what's my balance")
    assert "How would you like" in texts(assistant, sender, local(subscriber.msisdn))
    texts(assistant, sender, f"password, it's {subscriber.password}")
    stored = json.dumps(assistant.tracker(sender))
    assert subscriber.password not in stored
    raw = " ".join(assistant.redis().lrange(f"switchboard:tracker:{sender}", 0, -1))
    assert subscriber.password not in raw


def test_odd_input_gets_a_4xx_not_a_trace(assistant, sender):
    url = f"{assistant.base_url}/webhooks/rest/webhook"
    body = {"sender": sender.removeprefix("rest:"), "message": "\ud800 what is my balance"}
    status, answer = http("POST", url, raw=json.dumps(body).encode(),
                          headers={"Authorization": f"Bearer {REST_TOKEN}"})
    assert status == 400 and "Unicode" in answer["error"]
    status, _ = http("POST", url, {"sender": "x", "message": "hi"},
                     headers={"Authorization": "Bearer \u00e9t\u00e9"})
    assert status == 401
    contacts = f"http://127.0.0.1:{assistant.settings.console_port}/api/contacts"
    assert http("GET", contacts, headers={"Authorization": "Bearer \u00e9"})[0] == 401
    assert http("GET", f"{contacts}?page=999999999999999999999999", token=API_TOKEN)[0] == 400


def test_message_ids_of_two_conversations_never_collide(assistant):
    first = {"sender": f"col{uuid.uuid4().hex[:6]}", "message": "hi", "message_id": "x:1"}
    second = {"sender": f"{first['sender']}:x", "message": "hi", "message_id": "1"}
    assert rest(assistant, first)[1] and rest(assistant, second)[1]  # both answered


def test_nobody_can_text_a_subscriber_codes_without_end(assistant, subscriber):
    """Each new code voided the last and cost an SMS: now three an hour per number, whoever
    asks; then the assistant offers the service password instead."""
    said = []
    for attempt in range(4):
        conversation = f"rest:codes-{attempt}-{uuid.uuid4().hex[:6]}"
        assert "mobile number" in texts(assistant, conversation, "what's my balance")
        texts(assistant, conversation, local(subscriber.msisdn))
        said.append(texts(assistant, conversation,
                          '/inform{"verification_method": "otp"}'))
    codes = [b for b in sent_to(assistant, subscriber.msisdn) if "verification code" in b]
    assert len(codes) == 3
    assert "service password" in said[-1] and "couldn't send" in said[-1]
