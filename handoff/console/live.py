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

import redis.asyncio as aioredis
from sanic import Request, response
from sanic.response import HTTPResponse

from handoff import inbox, presence, queue
from handoff.console import blueprint
from handoff.console.auth import agent_record, current_agent, in_thread, still_logged_in
from handoff.console.html import mask_number
from handoff.console.service_level import service_today
from switchboard.services import Services
from switchboard.settings import ServiceTarget, Settings

REFRESH_SECONDS = 5.0
ROWS_PER_SKILL = 50  # a console lists the next 50 of each skill; the counts cover the rest


def snapshot(services: Services, agent_id: str, as_of: str | None = None,
             everything: bool = False) -> dict[str, Any]:
    """Everything the queue page and the supervisor view show, as of now: the queue rows of
    the agent's own skills, the agent's chats, everyone's presence and every skill's figures.
    ``as_of``: the last handoff event the caller has seen; consoles woken by the same event
    share one reading of the queue instead of each reading it again. ``everything``
    (supervisors): every waiting chat and every agent's chats too. The settings give the
    agents' timeout, the service targets and verified customers' names."""
    client, settings, now = services.redis, services.settings, time.time()
    shared = _shared_view(client, now, settings.agent_timeout_seconds, as_of, settings)
    me = presence.get(client, agent_id)
    skills = set(me.skills if me else queue.SKILLS)
    held = sorted(queue.chats_of(client, agent_id))
    mine = [_held_row(s, r, shared["unanswered"], now, settings)
            for s, r in zip(held, queue.records(client, held), strict=True)]
    view = {"kind": "snapshot", "agent": agent_id, "mine": mine,
            "queue": [row for row in shared["queue"] if row["skill"] in skills],
            "agents": shared["agents"], "skills": shared["skills"]}
    if everything:
        view["all"] = shared["queue"] + shared["held"]
    return view


def targets(settings: Settings | None) -> dict[str, dict[str, float]]:
    """Each skill's service targets (seconds): ``first_target`` (queued until an agent's first
    reply) and ``next_target`` (a customer's message with an agent until the agent's reply)."""
    return {skill: {"first_target": _target(settings, skill).first,
                    "next_target": _target(settings, skill).next} for skill in queue.SKILLS}


def _target(settings: Settings | None, skill: str | None) -> ServiceTarget:
    return settings.service_target(skill) if settings is not None else ServiceTarget()


_names: dict[str, tuple[float, str]] = {}  # msisdn -> (when read, holder's name)
NAME_SECONDS = 300.0


def customer_label(handoff: queue.Handoff | None, sender_id: str,
                   settings: Settings | None = None) -> str:
    """Who the customer is, as the lists show it: the name when verified (else the masked
    number), a masked channel identity when not."""
    if handoff is not None and handoff.verified and handoff.customer_msisdn:
        name = _name(handoff.customer_msisdn, settings) if settings is not None else ""
        return name or mask_number(handoff.customer_msisdn)
    identity = sender_id.partition(":")[2] or sender_id
    if identity.lstrip("+").isdigit() and len(identity) >= 8:
        return mask_number(identity)  # an SMS or WhatsApp number
    return f"visitor …{identity[-4:]}"


def _name(msisdn: str, settings: Settings) -> str:
    cached = _names.get(msisdn)
    if cached and time.time() - cached[0] < NAME_SECONDS:
        return cached[1]
    try:
        from accounts.backend import load_backend

        name = load_backend(settings).summary(msisdn).holder_name or ""
    except Exception:  # no name is better than no list
        name = ""
    _names[msisdn] = (time.time(), name)
    return name


def _held_row(sender_id: str, handoff: queue.Handoff | None, unanswered: dict[str, float],
              now: float, settings: Settings | None, agent: str = "") -> dict[str, Any]:
    said = [t["text"] for t in handoff.transcript if t.get("from") == "customer"] \
        if handoff else []
    return {"sender_id": sender_id, "channel": handoff.channel if handoff else "",
            "reason": handoff.reason if handoff else "",
            "skill": handoff.skill if handoff else "",
            "target_seconds": _target(settings, handoff.skill if handoff else None).next,
            "customer": customer_label(handoff, sender_id, settings),
            "last_customer_text": said[-1] if said else "", "agent": agent,
            "waiting_reply_seconds": int(now - unanswered[sender_id])
            if sender_id in unanswered else None}


_shared: dict[str, Any] = {"as_of": None, "at": 0.0, "view": None}
SHARED_SECONDS = 1.0  # a shared reading serves the same event for this long (waiting times)


def _shared_view(client, now: float, agent_timeout: float, as_of: str | None,
                 settings: Settings | None = None) -> dict[str, Any]:
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
                         "target_seconds": _target(settings, skill).first,
                         "channel": handoff.channel, "reason": handoff.reason,
                         "customer": customer_label(handoff, sender_id, settings),
                         "waiting_seconds": int(now - handoff.enqueued_at),
                         "last_customer_text": said[-1] if said else ""})
    everyone = presence.everyone(client)
    agents = [{"agent_id": p.agent_id, "status": p.effective_status(now, agent_timeout),
               "load": p.load, "capacity": p.capacity, "skills": list(p.skills),
               "seen_seconds": int(now - p.seen),
               "status_seconds": int(now - p.status_since(now, agent_timeout))}
              for p in everyone]
    unanswered = queue.unanswered_since(client)
    held = []
    for p in everyone:
        chats = sorted(queue.chats_of(client, p.agent_id))
        held += [_held_row(s, r, unanswered, now, settings, p.agent_id)
                 for s, r in zip(chats, queue.records(client, chats), strict=True)]
    skills = queue.queue_stats(client, now)
    limits = targets(settings)
    for skill, figures in skills.items():  # service targets missed right now, per skill
        figures.update(limits[skill])
        figures["over_first"] = sum(1 for r in rows if r["skill"] == skill
                                    and r["waiting_seconds"] > r["target_seconds"])
        figures["over_next"] = sum(1 for r in held if r["skill"] == skill
                                   and (r["waiting_reply_seconds"] or 0) > r["target_seconds"])
    view = {"queue": rows, "agents": agents, "skills": skills, "held": held,
            "unanswered": unanswered}
    if as_of is not None:
        _shared.update(as_of=as_of, at=now, view=view)
    return view


@blueprint.get("/api/snapshot")
async def snapshot_api(request: Request) -> HTTPResponse:
    agent = await agent_record(request)
    view = await in_thread(snapshot, request.app.ctx.services, agent.id, None, agent.supervisor)
    if agent.supervisor:
        view["service_today"] = await in_thread(service_today, request.app)
    return response.json(view)


@blueprint.websocket("/live")
async def live(request: Request, ws) -> None:
    agent_id = current_agent(request)
    if agent_id is None:  # the middleware answers HTTP; a socket is refused here too
        await ws.close()
        return
    supervisor = (await agent_record(request)).supervisor
    tasks = [asyncio.create_task(_heartbeats(ws, request, agent_id)),
             asyncio.create_task(_snapshots(ws, agent_id, request.app, supervisor)),
             asyncio.create_task(_personal(ws, request.app.ctx.services.async_redis(),
                                           agent_id, _cursor(request)))]
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
        await in_thread(presence.heartbeat, request.app.ctx.services.redis, agent_id)


async def _snapshots(ws, agent_id: str, app: Any, supervisor: bool) -> None:
    """A snapshot now, then after every queue or presence event (or every few seconds);
    supervisors' also carry the service level today."""
    services = app.ctx.services
    client = services.async_redis()
    newest = await client.xrevrange(queue.EVENTS, count=1)
    last = newest[0][0] if newest else "0-0"  # before the snapshot: no event slips between
    while True:
        view = await in_thread(snapshot, services, agent_id, last, supervisor)
        if supervisor:
            view["service_today"] = await in_thread(service_today, app)
        await ws.send(json.dumps(view))
        answer = await client.xread({queue.EVENTS: last}, block=int(REFRESH_SECONDS * 1000),
                                    count=100)
        if answer:
            last = answer[0][1][-1][0]


async def _personal(ws, client: aioredis.Redis, agent_id: str, since: str) -> None:
    """What is for this agent only (their customers' new messages, chats given to them), from
    the page's cursor on: nothing is lost while a page reloads or reconnects."""
    while True:
        answer = await client.xread({inbox.inbox_key(agent_id): since}, block=30_000,
                                    count=100)
        for entry_id, fields in answer[0][1] if answer else []:
            await ws.send(json.dumps({**json.loads(fields["data"]), "cursor": entry_id}))
            since = entry_id
