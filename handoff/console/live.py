"""The console's WebSocket (``/console/live``): one per open page.

The server sends ``snapshot`` messages (the queue, the agent's own chats, everyone's presence,
per-skill figures) when anything in the queue or presence changes and every few seconds for the
waiting times, and ``message`` / ``assigned`` messages for this agent as they happen. The page
sends ``{"kind": "heartbeat"}``: an agent whose pages all stop talking goes offline
(handoff/worker.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from typing import Any

from sanic import Request, response
from sanic.response import HTTPResponse

from handoff import inbox, presence, queue
from handoff.console import blueprint
from handoff.console.auth import current_agent, in_thread, still_logged_in
from switchboard.redis_client import async_redis_client, redis_client

REFRESH_SECONDS = 5.0
ROWS_PER_SKILL = 50  # a console lists the next 50 of each skill; the counts cover the rest


def snapshot(agent_id: str, agent_timeout: float, as_of: str | None = None) -> dict[str, Any]:
    """Everything the queue page and the supervisor view show, as of now: the queue rows of
    the agent's own skills, the agent's chats, everyone's presence and every skill's figures.
    ``as_of``: the last handoff event the caller has seen; consoles woken by the same event
    share one reading of the queue instead of each reading it again."""
    client, now = redis_client(), time.time()
    shared = _shared_view(client, now, agent_timeout, as_of)
    me = presence.get(client, agent_id)
    skills = set(me.skills if me else queue.SKILLS)
    unanswered = queue.unanswered_since(client)
    held = sorted(queue.chats_of(client, agent_id))
    mine = [{"sender_id": s, "channel": r.channel if r else "", "reason": r.reason if r else "",
             "waiting_reply_seconds": int(now - unanswered[s]) if s in unanswered else None}
            for s, r in zip(held, queue.records(client, held), strict=True)]
    return {"kind": "snapshot", "agent": agent_id, "mine": mine,
            "queue": [row for row in shared["queue"] if row["skill"] in skills],
            "agents": shared["agents"], "skills": shared["skills"]}


_shared: dict[str, Any] = {"as_of": None, "at": 0.0, "view": None}
SHARED_SECONDS = 1.0  # a shared reading serves the same event for this long (waiting times)


def _shared_view(client, now: float, agent_timeout: float, as_of: str | None) -> dict[str, Any]:
    """The part every console shows alike: the queue, the agents, the figures per skill."""
    cached = _shared
    if as_of is not None and cached["as_of"] == as_of and now - cached["at"] < SHARED_SECONDS:
        return cached["view"]
    rows = []
    for skill in queue.SKILLS:
        shown = queue.waiting(client, skill, limit=ROWS_PER_SKILL)
        for sender_id, handoff in zip(shown, queue.records(client, shown), strict=True):
            if handoff is None:
                continue
            said = [t["text"] for t in handoff.transcript if t.get("from") == "customer"]
            rows.append({"sender_id": sender_id, "skill": skill, "priority": handoff.priority,
                         "channel": handoff.channel, "reason": handoff.reason,
                         "waiting_seconds": int(now - handoff.enqueued_at),
                         "last_customer_text": said[-1] if said else ""})
    agents = [{"agent_id": p.agent_id, "status": p.effective_status(now, agent_timeout),
               "load": p.load, "capacity": p.capacity, "skills": list(p.skills)}
              for p in presence.everyone(client)]
    view = {"queue": rows, "agents": agents, "skills": queue.queue_stats(client, now)}
    if as_of is not None:
        _shared.update(as_of=as_of, at=now, view=view)
    return view


@blueprint.get("/api/snapshot")
async def snapshot_api(request: Request) -> HTTPResponse:
    return response.json(await in_thread(snapshot, current_agent(request),
                                         request.app.ctx.settings.agent_timeout_seconds))


@blueprint.websocket("/live")
async def live(request: Request, ws) -> None:
    agent_id = current_agent(request)
    if agent_id is None:  # the middleware answers HTTP; a socket is refused here too
        await ws.close()
        return
    settings = request.app.ctx.settings
    tasks = [asyncio.create_task(_heartbeats(ws, request, agent_id)),
             asyncio.create_task(_snapshots(ws, agent_id, settings.agent_timeout_seconds)),
             asyncio.create_task(_personal(ws, agent_id, _cursor(request)))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _cursor(request: Request) -> str:
    """The inbox position the page has read up to (``?cursor=``; from now if absent)."""
    given = request.args.get("cursor") or ""
    return given if re.fullmatch(r"\d+-\d+", given) else "$"


async def _heartbeats(ws, request: Request, agent_id: str) -> None:
    """Until the page goes, or its session ends: every frame from it says the agent is still
    there."""
    while True:
        frame = await ws.recv()
        if frame is None or not await in_thread(still_logged_in, request):
            return
        await in_thread(presence.heartbeat, redis_client(), agent_id)


async def _snapshots(ws, agent_id: str, agent_timeout: float) -> None:
    """A snapshot now, then after every queue or presence event (or every few seconds)."""
    client = async_redis_client()
    newest = await client.xrevrange(queue.EVENTS, count=1)
    last = newest[0][0] if newest else "0-0"  # before the snapshot: no event slips between
    while True:
        await ws.send(json.dumps(await in_thread(snapshot, agent_id, agent_timeout, last)))
        answer = await client.xread({queue.EVENTS: last}, block=int(REFRESH_SECONDS * 1000),
                                    count=100)
        if answer:
            last = answer[0][1][-1][0]


async def _personal(ws, agent_id: str, since: str) -> None:
    """What is for this agent only (their customers' new messages, chats given to them), from
    the page's cursor on: nothing is lost while a page reloads or reconnects."""
    client = async_redis_client()
    while True:
        answer = await client.xread({inbox.inbox_key(agent_id): since}, block=30_000,
                                    count=100)
        for entry_id, fields in answer[0][1] if answer else []:
            await ws.send(json.dumps({**json.loads(fields["data"]), "cursor": entry_id}))
            since = entry_id
