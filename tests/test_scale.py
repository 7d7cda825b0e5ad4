"""Production at scale on one machine (issue 15): haproxy -> 2 nodes (Rasa, actions, console
with its recorder, each under the launcher's supervisor), Redis primary + replica + 3
sentinels, PostgreSQL. Conversations over REST and web chat, some handed to agents, while one
Rasa server, one recorder, one action server and the Redis primary are killed -9.

Afterwards: every accepted message was answered (or refused with a retryable status and
answered on retry), every customer message is in the contact record exactly once and in order,
no handed-off conversation was lost or claimed twice, and the supervisors brought every killed
child back.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import redis
import websockets

from contacts import events
from handoff import presence, queue
from handoff.agents import DEMO_AGENTS
from switchboard.db import Database
from switchboard.redis_client import redis_client
from tests.postgres import fresh_database
from tests.redis_sentinel import sentinel_cluster
from tests.scale_cluster import REST_TOKEN, Cluster, wait_until
from tests.test_contacts_recorder import contacts_of

RETRYABLE = {409, 502, 503, 504}
PATIENCE = 300.0  # seconds a client keeps retrying one message (Rasa's lock lapses at 60 s)
SCRIPTS = [
    ["hi", "what does roaming cost in France?", "how can I pay my bill?", "thanks, bye"],
    ["hello", "is there 5G coverage in Leeds?", "I want to speak to a person"],
    ["good morning", "how do I top up?", "what is a PUK code?", "bye"],
]
REST_CONVERSATIONS = 36
WEBCHAT_CONVERSATIONS = 4


@dataclass
class Sent:
    sender: str
    text: str
    statuses: list[object] = field(default_factory=list)
    replies: list[dict] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return bool(self.replies)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, postgres_url, test_model) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("scale")
    database_url = fresh_database(postgres_url, "scale")
    with sentinel_cluster(workdir) as redis_cluster:
        running = Cluster(workdir, {"REDIS_SENTINELS": redis_cluster.sentinels},
                          database_url, test_model)
        running.redis = redis_cluster
        try:
            running.start()
            yield running
        finally:
            running.stop()


def test_the_cluster_loses_nothing_while_its_parts_are_killed(cluster):
    settings = cluster.nodes[0].settings
    client = redis_client(settings)
    stop_agents = threading.Event()
    claims: list[tuple[str, str]] = []
    agents = [threading.Thread(target=_agent, args=(settings, a[0], claims, stop_agents),
                               daemon=True) for a in DEMO_AGENTS]
    for agent in agents:
        agent.start()
    wait_until(lambda: _safely(lambda: presence.anyone_online(client, "general", 60)), 30)

    conversations = [(f"scale-{n}-{uuid.uuid4().hex[:6]}", SCRIPTS[n % len(SCRIPTS)])
                     for n in range(REST_CONVERSATIONS)]
    killer = threading.Thread(target=_kill_everything_once, args=(cluster,), daemon=True)
    with ThreadPoolExecutor(max_workers=8) as pool:
        rest = [pool.submit(_rest_conversation, cluster.rasa_url, sender, script)
                for sender, script in conversations]
        webchat = [pool.submit(_webchat_conversation, cluster.rasa_lb, SCRIPTS[0])
                   for _ in range(WEBCHAT_CONVERSATIONS)]
        killer.start()
        sent = [s for future in rest + webchat for s in future.result()]
    killer.join()

    unanswered = [(s.sender, s.text, s.statuses) for s in sent if not s.answered]
    assert unanswered == []
    assert any(len(s.statuses) > 1 for s in sent), "no message needed a retry: nothing died?"

    # The supervisors brought every killed child back, and they serve again.
    node0, node1 = cluster.nodes
    for node, name in ((node0, "rasa"), (node1, "recorder"), (node0, "action-server")):
        wait_until(lambda n=node, c=name: _safely(lambda: n.replaced(c)), 300)

    # Every customer message recorded exactly once, in order, per conversation.
    wait_until(lambda: _safely(lambda: events.unrecorded(client) == 0), 120)
    db = Database(cluster.database_url)
    try:
        by_sender: dict[str, list[str]] = {}
        for s in sent:
            by_sender.setdefault(s.sender, []).append(s.text)
        for sender, texts in by_sender.items():
            recorded = [t.text for d in contacts_of(db, sender) for t in d.touches
                        if t.author == "customer"]
            assert recorded == texts, sender
    finally:
        db.dispose()

    # Each handed-off conversation reached exactly one agent.
    handed_off = {f"rest:{sender}" for sender, script in conversations
                  if "person" in script[-1]}
    wait_until(lambda: {c for c, _ in claims} >= handed_off, 60)
    stop_agents.set()
    for agent in agents:
        agent.join(10)
    taken = Counter(c for c, _ in claims)
    assert {c for c, n in taken.items() if n > 1} == set()
    for conversation in handed_off:
        assert queue.owner(client, conversation).startswith("agent:"), conversation


def _kill_everything_once(cluster: Cluster) -> None:
    """One of each, a few seconds apart, while the conversations run."""
    node0, node1 = cluster.nodes
    time.sleep(3)
    node0.kill("rasa")
    time.sleep(3)
    node1.kill("recorder")
    time.sleep(3)
    node0.kill("action-server")
    time.sleep(3)
    primary = cluster.redis.primary()
    cluster.redis.kill(primary)
    cluster.redis.await_failover(primary)


def _rest_conversation(base_url: str, sender: str, script: list[str]) -> list[Sent]:
    sent = []
    for text_ in script:
        message = Sent(f"rest:{sender}", text_)
        body = {"sender": sender, "message": text_, "message_id": uuid.uuid4().hex}
        deadline = time.monotonic() + PATIENCE
        while not message.answered and time.monotonic() < deadline:
            status, answer = _post(f"{base_url}/webhooks/rest/webhook", body)
            message.statuses.append(status)
            if status == 200 and answer:
                message.replies = answer
            elif status == 200 or status not in RETRYABLE and not isinstance(status, str):
                break  # 200 with nothing: answered before? never for a new id. 4xx: a bug
            else:
                time.sleep(1.0)
        sent.append(message)
        time.sleep(0.3)  # a customer reads the answer
    return sent


def _webchat_conversation(lb_port: int, script: list[str]) -> list[Sent]:
    return asyncio.run(_webchat(f"ws://127.0.0.1:{lb_port}/webhooks/webchat/socket", script))


async def _webchat(url: str, script: list[str]) -> list[Sent]:
    """The widget's protocol: a message is resent, same id, on every reconnect until the server
    acknowledges it; an answer lost with a dropped socket shows in the history on reconnect."""
    token, sent, sender = None, [], None
    for text_ in script:
        message = Sent("", text_)
        frame = {"type": "message", "text": text_, "id": uuid.uuid4().hex}
        deadline = time.monotonic() + PATIENCE
        while not message.answered and time.monotonic() < deadline:
            try:
                async with websockets.connect(url, open_timeout=10) as ws:
                    await ws.send(json.dumps({"type": "hello", "token": token}))
                    token, sender, history = await _session(ws, sender)
                    if message.statuses and _answered_in(history, text_):
                        message.replies = [{"from": "history"}]
                        break
                    await ws.send(json.dumps(frame))
                    replies, acked = await _until_ack(ws)
                    message.statuses.append("acked" if acked else "no ack")
                    message.replies = replies  # acked without replies: answered before, look
            except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as exc:
                message.statuses.append(type(exc).__name__)
                await asyncio.sleep(1.0)
        message.sender = sender or "webchat:?"
        sent.append(message)
        await asyncio.sleep(0.3)
    return sent


async def _session(ws, sender: str | None) -> tuple[str, str, list[dict]]:
    """The token, the conversation and the history a hello gets."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if frame["type"] == "session":
            token = frame["token"]
            sender = sender or _sender_of(token)
        if frame["type"] == "history":
            return token, sender, frame["messages"]


async def _until_ack(ws) -> tuple[list[dict], bool]:
    """The bot's frames until the message is acknowledged (and a moment after, for replies
    still on their way through Redis)."""
    replies, timeout, acked = [], 200.0, False
    while True:
        try:
            frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        except asyncio.TimeoutError:
            return replies, acked
        if frame.get("type") == "bot":
            replies.append(frame)
        if frame.get("type") == "ack":
            acked, timeout = True, 1.0


def _answered_in(history: list[dict], text_: str) -> bool:
    said = [n for n, turn in enumerate(history)
            if turn.get("from") == "customer" and turn.get("text") == text_]
    return bool(said) and any(turn.get("from") == "bot" for turn in history[said[-1] + 1:])


def _sender_of(token: str) -> str:
    from bot.channels.webchat import sender_of, session_from_token
    from switchboard.settings import Settings
    from tests.scale_cluster import SECRET_KEY

    settings = Settings.from_env({"SWITCHBOARD_SECRET_KEY": SECRET_KEY})
    return sender_of(session_from_token(settings, token))


def _agent(settings, agent_id: str, claims: list, stop: threading.Event) -> None:
    """An agent with the console open: heartbeats, and takes the next waiting chat."""
    client = redis_client(settings)
    _, _, _, skills, capacity, _ = next(a for a in DEMO_AGENTS if a[0] == agent_id)
    while not stop.wait(0.3):
        try:
            presence.set_status(client, agent_id, "online", skills, 1000)
            taken = queue.claim_next(client, agent_id, skills, 1000)
            if taken:
                claims.append((taken, agent_id))
        except redis.RedisError:
            pass  # failing over: the console retries too


def _post(url: str, body: dict) -> tuple[object, list]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {REST_TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=200) as response:
            return response.status, json.loads(response.read() or b"[]")
    except urllib.error.HTTPError as error:
        return error.code, []
    except (urllib.error.URLError, OSError) as exc:
        return type(exc).__name__, []


def _safely(check) -> bool:
    try:
        return bool(check())
    except (redis.RedisError, OSError):
        return False
