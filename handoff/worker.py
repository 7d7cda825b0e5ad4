"""The queue's clock: what happens with time rather than with a message. One sweep a second,
by one replica at a time across the cluster (a Redis lease, ``run``); each step would also be
safe with several sweepers (each change is decided by an atomic Redis operation).

- Waits past ``HANDOFF_MAX_WAIT_MINUTES`` end: the customer is told what happens next and is
  back with the bot.
- Agents whose console went quiet past ``HANDOFF_AGENT_TIMEOUT_SECONDS`` are offline: their
  chats wait again at the front of the queue. So does a chat whose customer has waited past
  ``HANDOFF_REPLY_TIMEOUT_MINUTES`` for an agent's reply.
- With ``HANDOFF_AUTO_ASSIGN``, waiting chats go to the least-loaded online agent with the skill
  and room.
- Customers hear when their place in the queue moved up meaningfully.
- Contact records past ``CONTACT_RETENTION_DAYS`` are anonymised, at most hourly across every
  replica (``contacts.retention``: a Redis lease of its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable

import redis

from contacts import events, retention
from handoff import customer, inbox, presence, queue, tracker
from handoff.intake import wait_phrase
from handoff.models import Agent
from switchboard import metrics
from switchboard.db import database
from switchboard.lease import Lease
from switchboard.log import conversation_ref, get_logger
from switchboard.redis_client import async_redis_client, redis_client
from switchboard.settings import Settings

log = get_logger(__name__)

EXPIRED_MESSAGE = ("Sorry, no agent became free in time. I've noted that you wanted to talk to "
                   "someone: you can ask again later, call customer care on 150 (8:00-22:00), "
                   "or carry on here with me.")
REQUEUED_MESSAGE = ("Sorry, your agent had to step away. You're first in line for the next "
                    "free agent.")


async def sweep(settings: Settings, now: float | None = None) -> dict[str, int]:
    """One pass of every step; returns how many conversations each step touched."""
    now = now or time.time()
    return {"expired": await expire(settings, now),
            "requeued": await requeue_abandoned(settings, now),
            "assigned": await auto_assign(settings) if settings.auto_assign else 0,
            "told": await tell_positions(settings),
            "anonymised": await retain(settings, now)}


async def retain(settings: Settings, now: float) -> int:
    """Contacts anonymised by the hourly retention sweep if it was due (0 if not). A sweep's
    few seconds pause this clock once an hour; a failure waits for the lease to lapse."""
    done = await asyncio.to_thread(retention.run_if_due, settings, now)
    return done.contacts if done else 0


async def for_each(step: str, sender_ids: Iterable[str],
                   handle: Callable[[str], Awaitable[object]]) -> int:
    """Run ``handle`` for each conversation on its own: one customer who cannot be reached (a
    provider error, a broken record) is logged and skipped, and everyone after them is still
    handled. Returns how many were handled without an error."""
    done = 0
    for sender_id in sender_ids:
        try:
            await handle(sender_id)
            done += 1
        except Exception as exc:  # noqa: BLE001  # one customer's failure is theirs alone
            log.error("handoff.step_failed", step=step, error=type(exc).__name__,
                      conversation=conversation_ref(sender_id))
    return done


async def expire(settings: Settings, now: float) -> int:
    expired = await asyncio.to_thread(queue.expire_waiting, redis_client(settings),
                                      settings.handoff_max_wait_minutes * 60, now)

    async def end_wait(sender_id: str) -> None:
        log.info("handoff.expired", conversation=conversation_ref(sender_id))
        events.publish(redis_client(settings), events.operation(
            sender_id, "handoff_requested", "failure", "expired"))
        await tracker.resume(sender_id, settings)  # back with the bot, even if not told
        await customer.tell(settings, sender_id, EXPIRED_MESSAGE)

    await for_each("expire", [h.sender_id for h in expired], end_wait)
    return len(expired)


async def requeue_abandoned(settings: Settings, now: float) -> int:
    """Chats of agents gone offline, and chats an agent left unanswered too long."""
    client = redis_client(settings)
    moved = []
    for agent_id in await asyncio.to_thread(presence.gone_silent, client,
                                            settings.agent_timeout_seconds, now):
        moved += await go_offline(settings, agent_id)
    limit = settings.reply_timeout_minutes * 60
    for sender_id, since in (await asyncio.to_thread(queue.unanswered_since, client)).items():
        holder = await asyncio.to_thread(queue.owner, client, sender_id)
        if now - since > limit and holder.startswith("agent:"):
            moved += await _requeue(settings, holder.split(":", 1)[1], [sender_id])
    return len(moved)


async def go_offline(settings: Settings, agent_id: str) -> list[str]:
    """The agent is offline (logged out, or silent): their chats wait again, at the front."""
    client = redis_client(settings)
    current = await asyncio.to_thread(presence.get, client, agent_id)
    if current is not None:
        await asyncio.to_thread(presence.set_status, client, agent_id, "offline",
                                list(current.skills), current.capacity, current.seen)
    chats = await asyncio.to_thread(queue.chats_of, client, agent_id)
    return await _requeue(settings, agent_id, sorted(chats))


async def _requeue(settings: Settings, agent_id: str, chats: list[str]) -> list[str]:
    client = redis_client(settings)

    async def back_in_line(sender_id: str) -> None:
        await asyncio.to_thread(queue.requeue_front, client, agent_id, sender_id)
        log.info("handoff.requeued", agent=agent_id, conversation=conversation_ref(sender_id))
        await customer.tell(settings, sender_id, REQUEUED_MESSAGE)

    await for_each("requeue", chats, back_in_line)
    return chats


async def auto_assign(settings: Settings) -> int:
    """Give each skill's waiting chats, best first, to the least-loaded online agent with room
    (the claim is atomic: an agent taking a chat by hand at the same time is safe)."""
    pairs = await asyncio.to_thread(_assign_waiting, redis_client(settings),
                                    settings.agent_timeout_seconds)
    given = {sender_id: agent_id for agent_id, sender_id in pairs}

    async def notify(sender_id: str) -> None:
        agent_id = given[sender_id]
        await notify_agent(settings, agent_id, {"kind": "assigned", "sender_id": sender_id})
        agent = await asyncio.to_thread(_agent, settings, agent_id)
        await customer.joined(settings, sender_id, agent)

    await for_each("assign", list(given), notify)
    return len(given)


def _agent(settings: Settings, agent_id: str) -> Agent:
    """The agent as customers see them (an id with no account yet: just the id)."""
    with database(settings).reading() as session:
        return session.get(Agent, agent_id) or Agent(id=agent_id)


def _assign_waiting(client: redis.Redis, agent_timeout: float) -> list[tuple[str, str]]:
    given = []
    for skill in queue.SKILLS:
        for sender_id in queue.waiting(client, skill):
            with_room = [p for p in presence.available(client, skill, agent_timeout)
                         if p.free > 0]
            if not with_room:
                break
            agent = with_room[0]
            if queue.claim(client, agent.agent_id, sender_id, agent.capacity):
                given.append((agent.agent_id, sender_id))
    return given


async def notify_agent(settings: Settings, agent_id: str, message: dict) -> None:
    await inbox.post(async_redis_client(settings), agent_id, message)


async def tell_positions(settings: Settings) -> int:
    """Tell a waiting customer when they moved up: to next in line, or by a third of the
    queue ahead of them (at least two places)."""
    updates = await asyncio.to_thread(_position_updates, redis_client(settings),
                                      settings.agent_timeout_seconds)
    told = dict(updates)

    async def tell(sender_id: str) -> None:
        await customer.tell(settings, sender_id, told[sender_id])

    await for_each("tell_position", list(told), tell)
    return len(updates)


def _position_updates(client: redis.Redis, agent_timeout: float) -> list[tuple[str, str]]:
    """Who should hear their new place, and what (remembered as told)."""
    updates = []
    for skill in queue.SKILLS:
        line = queue.waiting(client, skill)
        seats = None
        for place, (sender_id, before) in enumerate(
                zip(line, queue.told_positions(client, line), strict=True), start=1):
            if before is None or not _moved_enough(before, place):
                continue
            if seats is None:
                seats = sum(p.capacity for p in presence.available(client, skill, agent_timeout))
            queue.remember_told(client, sender_id, place)
            wait = queue.estimated_wait_seconds(client, place, seats)
            updates.append((sender_id, "You're next in the queue." if place == 1 else
                            f"You've moved up: you're now number {place} in the queue, about "
                            f"{wait_phrase(wait)} to go."))
    return updates


def _moved_enough(before: int, now: int) -> bool:
    return now < before and (now == 1 or before - now >= max(2, before // 3))


CLOCK_LEASE = "switchboard:handoff:clock:lease"
LEASE_SECONDS = 5.0  # a dead clock's replica takes over within this


async def run(settings: Settings, every: float = 1.0, lease: Lease | None = None) -> None:
    """Sweep forever while holding the clock's lease: with several replicas exactly one
    sweeps, and another takes over within ``LEASE_SECONDS`` of its death (cancelled when the
    process stops, which hands the lease on at once). Redis outages are logged and retried,
    never fatal."""
    lease = lease or Lease(redis_client(settings), CLOCK_LEASE, LEASE_SECONDS)
    try:
        while True:
            await _tick(settings, lease)
            await asyncio.sleep(every)
    finally:
        with contextlib.suppress(redis.RedisError):
            await asyncio.to_thread(lease.release)


async def _tick(settings: Settings, lease: Lease) -> None:
    try:
        if not await asyncio.to_thread(lease.hold):
            metrics.CLOCK_TICKS.labels("standby").inc()
            return
        done = await sweep(settings)
        metrics.CLOCK_TICKS.labels("sweeper").inc()
        for step, count in done.items():
            metrics.CLOCK_STEPS.labels(step).inc(count)
    except redis.RedisError as exc:
        log.warning("handoff.worker_unavailable", error=type(exc).__name__)
    except Exception as exc:  # noqa: BLE001  # keep sweeping; the next pass retries
        log.error("handoff.worker_failed", error=type(exc).__name__)
