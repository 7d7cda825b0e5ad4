"""Web chat sessions belong to the server (issue 12, item 1): attacks on the widget's socket of the
running stack, and the verified-identity idle limit.

Before this change ``ChatSession.run`` took ``hello.session_id`` verbatim whenever it matched
``[A-Za-z0-9_-]{16,64}``, subscribed to that session's replies, sent the tracker's last 30 turns
of ``webchat:<id>`` as history and routed the caller's messages into that conversation (with its
verified identity). Every attack below therefore succeeded then: the attacker got the chosen or
stolen id back in the ``session`` frame and the victim's history.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid

import pytest
import websockets

from bot.channels.webchat import session_from_token, session_token
from switchboard.settings import Settings
from tests.test_webchat import session_of, socket_url
from verification.idle import verified_idle_limit

DAY = 86400
Said = tuple[list[dict], str, list]  # every frame received, the issued token, the history


async def _say(assistant, hello: dict, messages: tuple[str, ...] = ()) -> Said:
    """Open a socket, send ``hello`` and then each message (waiting for the bot's reply): every
    frame received, the token the server issued, and the history frame's messages."""
    async with websockets.connect(socket_url(assistant)) as ws:
        await ws.send(json.dumps(hello))
        frames = []

        async def until(kind: str) -> dict:
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                frames.append(frame)
                if frame["type"] == kind:
                    return frame

        token = (await until("session"))["token"]
        history = (await until("history"))["messages"]
        for text in messages:
            await ws.send(json.dumps({"type": "message", "text": text, "id": uuid.uuid4().hex}))
            await until("bot")
        return frames, token, history


def say(assistant, hello: dict, messages: tuple[str, ...] = ()) -> Said:
    return asyncio.run(_say(assistant, hello, messages))


@pytest.fixture
def victim(assistant) -> tuple[str, str]:
    """A real web chat session that said something: its token and its session id."""
    _, token, history = say(assistant, {"type": "hello", "token": None}, ("what apn do I need",))
    assert history == []
    return token, session_of(assistant, token)


def assert_new_session(assistant, frames: list[dict], token: str, history: list,
                       refused: str) -> None:
    """The hello got a fresh server-made session, no history, and no frame named ``refused``."""
    assert session_of(assistant, token) != refused
    assert history == []
    assert refused not in json.dumps(frames)


def resign(token: str, **changes) -> str:
    """``token`` with its body changed (``session_id``) or its MAC altered (``flip_mac``),
    keeping the rest: what an attacker can do without the key."""
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    body, mac = bytes(raw[:-32]), bytearray(raw[-32:])
    version, session_id, stamp = body.decode().split(".")
    session_id = changes.get("session_id", session_id)
    if changes.get("flip_mac"):
        mac[0] ^= 0x01
    raw = f"{version}.{session_id}.{stamp}".encode() + bytes(mac)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_self_chosen_session_id_is_not_taken(assistant):
    """Before: ``aaaaaaaaaaaaaaaa`` matched the id pattern and became the session."""
    chosen = "a" * 16
    for hello in ({"type": "hello", "session_id": chosen}, {"type": "hello", "token": chosen}):
        frames, token, history = say(assistant, hello)
        assert_new_session(assistant, frames, token, history, chosen)
        assert len(session_of(assistant, token)) == 24  # 144 random bits, base64url


def test_another_sessions_id_without_its_token_gets_nothing_of_it(assistant, victim):
    """Before: presenting the victim's id (seen in a log, a console, a shoulder-surf) was enough
    to read its history and write into it."""
    victim_token, victim_id = victim
    _, own_token, _ = say(assistant, {"type": "hello", "token": None})
    attacks = [
        {"type": "hello", "session_id": victim_id},  # the old frame, bare id
        {"type": "hello", "token": victim_id},  # the bare id where the token goes
        {"type": "hello", "token": resign(victim_token, flip_mac=True)},  # MAC altered
        {"type": "hello", "token": resign(own_token, session_id=victim_id)},  # MAC for own id
        {"type": "hello", "token": victim_token + "A"},  # trailing garbage
    ]
    for hello in attacks:
        frames, token, history = say(assistant, hello, ("hi, I am the attacker",))
        assert_new_session(assistant, frames, token, history, victim_id)
    # nothing the attackers said reached the victim's conversation, which resumes intact
    _, again, history = say(assistant, {"type": "hello", "token": victim_token})
    assert session_of(assistant, again) == victim_id
    assert [t["text"] for t in history if t["from"] == "customer"] == ["what apn do I need"]


def test_forged_and_expired_tokens_start_a_new_session(assistant, victim, tmp_path):
    """Before there were no tokens: the bare id never expired and needed no key."""
    _, victim_id = victim
    other_key = Settings.from_env({"SWITCHBOARD_DATA_DIR": str(tmp_path)})  # another secret key
    lifetime = assistant.settings.webchat_session_days * DAY
    forged = [
        session_token(other_key, victim_id),
        session_token(assistant.settings, victim_id, issued=time.time() - lifetime - 60),
        session_token(assistant.settings, victim_id, issued=time.time() + DAY),  # post-dated
    ]
    for token in forged:
        frames, new_token, history = say(assistant, {"type": "hello", "token": token})
        assert_new_session(assistant, frames, new_token, history, victim_id)


def test_the_real_token_resumes_and_each_hello_slides_the_lifetime(assistant, victim):
    _, victim_id = victim
    lifetime = assistant.settings.webchat_session_days * DAY
    old = session_token(assistant.settings, victim_id, issued=time.time() - lifetime + 3600)
    _, fresh, history = say(assistant, {"type": "hello", "token": old})
    assert session_of(assistant, fresh) == victim_id
    assert [t["text"] for t in history if t["from"] == "customer"] == ["what apn do I need"]
    later = time.time() + lifetime - 60  # the old token has expired by then, the fresh one not
    assert session_from_token(assistant.settings, old, now=later) is None
    assert session_from_token(assistant.settings, fresh, now=later) == victim_id


@pytest.mark.parametrize("token", [None, "", 7, ["x"], "not base64!", "A" * 200, "AAAA"])
def test_malformed_tokens_are_refused_without_errors(tmp_path, token):
    settings = Settings.from_env({"SWITCHBOARD_DATA_DIR": str(tmp_path)})
    assert session_from_token(settings, token) is None


def test_verified_identity_idle_limit_is_shorter_on_web_chat():
    settings = Settings.from_env({"CONTACT_TIMEOUT_MINUTES": "30",
                                  "WEBCHAT_VERIFIED_IDLE_MINUTES": "10"})
    assert verified_idle_limit(settings, "webchat:abc") == 600
    assert verified_idle_limit(settings, "sms:447700900123") == 1800
    assert verified_idle_limit(settings, "telegram:42") == 1800
    assert verified_idle_limit(settings, "rest:webchat:abc") == 1800  # a prefix, not a substring
    quick = Settings.from_env({"CONTACT_TIMEOUT_MINUTES": "5",
                               "WEBCHAT_VERIFIED_IDLE_MINUTES": "10"})
    assert verified_idle_limit(quick, "webchat:abc") == 300  # never longer than the contact
