"""Into the agent queue, or, when nobody can answer, a message left for a callback.

One decision for every trigger (the customer asked, the bot kept failing, a billing dispute, a
repeated complaint, a verification lockout, a bot failure): within opening hours and with an
agent of the skill online, the conversation joins the queue and the customer hears their
position and an estimated wait; otherwise the customer is offered to leave a message, which
the gateway records as a callback request (bot/gateway.py).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import redis

from handoff import presence, queue
from handoff.queue import Handoff
from switchboard.settings import Settings

CALLBACK_WINDOW_SECONDS = 30 * 60  # how long the offer to leave a message stands


@dataclass(frozen=True)
class Intake:
    queued: bool  # False: a callback was offered instead
    message: str  # what the customer is told


def hand_over(client: redis.Redis, settings: Settings, handoff: Handoff,
              now: float | None = None) -> Intake:
    """Queue the conversation or offer a callback; tells the caller what to say."""
    now = now or time.time()
    hours = settings.opening_hours
    if not hours.is_open(datetime.fromtimestamp(now, timezone.utc)):
        return _offer_callback(client, handoff, f"Our agents work {hours.text} "
                                                f"({settings.handoff_timezone} time).")
    here = presence.available(client, handoff.skill, settings.agent_timeout_seconds, now)
    if not here:
        return _offer_callback(client, handoff, "None of our agents who can help with this is "
                                                "available right now.")
    place = queue.enqueue(client, handoff)
    queue.remember_told(client, handoff.sender_id, place)
    wait = queue.estimated_wait_seconds(client, place, sum(p.capacity for p in here))
    return Intake(True, queue_message(place, wait))


def queue_message(place: int, wait_seconds: float) -> str:
    ahead = "You're next" if place <= 1 else f"You're number {place} in the queue"
    return (f"I'm passing you to one of our agents. {ahead}; the wait is about "
            f"{wait_phrase(wait_seconds)}. Anything you write now goes to the agent. "
            "Type \"cancel\" to stop waiting and continue with me.")


def wait_phrase(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return "a minute" if minutes == 1 else f"{minutes} minutes"


def _offer_callback(client: redis.Redis, handoff: Handoff, why: str) -> Intake:
    queue.await_answer(client, handoff.sender_id, queue.AWAITING_CALLBACK_MESSAGE,
                       CALLBACK_WINDOW_SECONDS, handoff)
    return Intake(False, f"{why} Leave us a message here, with the best number to call you "
                         "back on, and an agent will call you back. Type \"cancel\" to carry on "
                         "with me instead.")
