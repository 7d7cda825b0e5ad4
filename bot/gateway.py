"""The steps every inbound message takes, whichever channel it came on.

Channels (``bot/channels/``) only authenticate, parse and format; then they call ``deliver``:
claim the channel's message id (bot/claims.py: a redelivered webhook is answered and recorded
once, and a failed attempt releases the claim so the retry is processed), ask who owns the
conversation, and hand the message to Rasa, or to the handoff's rules (handoff/inbound.py) for a
conversation queued for or with an agent. If Rasa or the action server fails, apologise to the
customer and keep the message in the contact record anyway. Touches are recorded by the event
broker (bot/contact_events.py), which sees each message with its NLU result.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis.asyncio as aioredis
from rasa.core.channels.channel import OutputChannel, UserMessage
from redis.exceptions import RedisError

from bot import claims, payloads
from bot.channels.base import printable
from contacts import events
from contacts.masking import mask_secrets
from handoff import inbound as handoff_inbound
from handoff import queue
from handoff.intake import hand_over
from handoff.queue import Handoff
from switchboard import metrics
from switchboard.log import conversation_ref, get_logger
from switchboard.services import Services

log = get_logger(__name__)

APOLOGY = ("Sorry, something went wrong on our side while answering. Your message is saved and "
           "a colleague will see it; please try again in a moment.")
APOLOGY_SHORT = "Sorry, something went wrong on our side while answering."

T = TypeVar("T")
_unawaited: set[asyncio.Task] = set()  # turns whose caller hung up: a reference keeps them


@dataclass(frozen=True)
class Inbound:
    """One customer message, as every channel hands it over."""

    channel: str  # the contact channel: rest, webchat, telegram, sms, whatsapp
    sender_id: str  # the Rasa conversation id
    text: str
    message_id: str  # the channel's own id (Telegram update_id, Twilio MessageSid, ...)
    metadata: dict[str, Any] = field(default_factory=dict)
    # What the assistant reads of the text (an SMS "2" to numbered options: that option), run
    # only once the message is claimed: a duplicate or a busy attempt must change nothing.
    prepare: Callable[[str], Awaitable[str]] | None = field(default=None, compare=False,
                                                          repr=False)

    def for_handoff(self, recorded: bool = False) -> handoff_inbound.CustomerMessage:
        return handoff_inbound.CustomerMessage(self.sender_id, self.channel, self.text,
                                               self.message_id, recorded)


class Outcome(enum.Enum):
    ANSWERED = "answered"
    DUPLICATE = "duplicate"
    BUSY = "busy"  # the same message is being processed by another request: retry later
    TO_AGENT = "to_agent"  # queued for or with an agent: kept for them, not shown to Rasa
    FAILED = "failed"  # apologised; the message is in the contact record


async def first_delivery(client: aioredis.Redis, channel: str, sender_id: str,
                         message_id: str) -> bool:
    """Claim and commit at once, for messages whose handling is one reply that cannot fail
    half-way (a "text only, please"): True the first time, False for every redelivery."""
    taken = await claims.claim(client, channel, sender_id, message_id)
    if taken.state is claims.State.NEW:
        await claims.commit(client, taken)
    return taken.state is claims.State.NEW


async def to_completion(work: Awaitable[T]) -> T:
    """Await ``work`` and let it finish even if the request awaiting it is cancelled. Sanic
    cancels a handler when its client hangs up (Twilio after 15 s, error 11200; a REST client's
    timeout; a closed web chat tab): a turn cut there had sent part of its reply, saved nothing
    and released its claim, so the provider's retry was answered a second time."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        _unawaited.add(task)
        task.add_done_callback(_finished_alone)
        raise


def _finished_alone(task: asyncio.Task) -> None:
    """A turn nobody awaits any more ended: log what it raised (no one else will)."""
    _unawaited.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("message.failed_after_hangup", error=type(task.exception()).__name__)


@metrics.timed_delivery  # switchboard_messages_total by outcome, reply latency
async def deliver(
    inbound: Inbound, output: OutputChannel,
    on_new_message: Callable[[UserMessage], Awaitable[Any]], services: Services,
) -> Outcome:
    """Claim, process once, commit; never let a failure reach the customer as a trace.
    ``services``: the channel's, from the process's root (``inbound`` stays first: the metrics
    wrapper reads it).

    Raises RedisError when Redis failed before the message was handled: the claim is released
    and the channel answers a retryable status, so the provider's retry is processed afresh.
    """
    inbound = dataclasses.replace(inbound, text=printable(inbound.text))
    client = services.async_redis()
    taken = await claims.claim(client, inbound.channel, inbound.sender_id, inbound.message_id)
    if taken.state is claims.State.DONE:
        return Outcome.DUPLICATE
    if taken.state is claims.State.BUSY:
        return Outcome.BUSY
    renewal = asyncio.create_task(claims.keep(client, taken))
    try:
        outcome = await _process(services, await _prepared(inbound), output, on_new_message)
    except BaseException:
        try:
            await claims.release(client, taken)
        except RedisError as exc:  # the claim lapses by itself after CLAIM_SECONDS
            metrics.redis_error("gateway")
            log.error("claim.not_released", error=type(exc).__name__,
                      conversation=conversation_ref(inbound.sender_id))
        raise
    finally:
        renewal.cancel()
    await claims.commit(client, taken)
    return outcome


async def _prepared(inbound: Inbound) -> Inbound:
    if inbound.prepare is None:
        return inbound
    return dataclasses.replace(inbound, text=await inbound.prepare(inbound.text), prepare=None)


async def _process(services: Services, inbound: Inbound, output: OutputChannel,
                   on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Outcome:
    owner = await services.async_redis().get(queue.owner_key(inbound.sender_id))
    if owner and await handoff_inbound.take(services, inbound.for_handoff(), owner,
                                            _replier(services, inbound, output)):
        return Outcome.TO_AGENT  # queued for, or with, an agent (or its one answer)
    counted = _Counting(services, output, inbound.sender_id)
    message = UserMessage(inbound.text, counted, inbound.sender_id,
                          input_channel=inbound.channel, message_id=inbound.message_id,
                          metadata=await _trusted_metadata(services, inbound))
    try:
        await on_new_message(message)
    except Exception as exc:  # Rasa failed on this message: it never reached the tracker
        log.error("message.failed", channel=inbound.channel, error=type(exc).__name__,
                  conversation=conversation_ref(inbound.sender_id))
        await _fail_open(services, inbound, output, with_message=True)
        return Outcome.FAILED
    if counted.sent == 0:
        return await _silent(services, inbound, output)
    return Outcome.ANSWERED


async def _silent(services: Services, inbound: Inbound, output: OutputChannel) -> Outcome:
    """Rasa carried on without a reply. Either the conversation was handed over while this
    message waited for the conversation's lock (a paused tracker takes a message but predicts
    nothing: the message is the agent's, and already in the record), or an action failed."""
    owner = await services.async_redis().get(queue.owner_key(inbound.sender_id))
    if owner and await handoff_inbound.take(services, inbound.for_handoff(recorded=True), owner,
                                            _replier(services, inbound, output)):
        return Outcome.TO_AGENT
    log.error("message.unanswered", channel=inbound.channel,
              conversation=conversation_ref(inbound.sender_id))
    await _fail_open(services, inbound, output, with_message=False)
    return Outcome.FAILED


async def _trusted_metadata(services: Services, inbound: Inbound) -> dict[str, Any] | None:
    """The channel's metadata, with the payload mark set by us alone: only a payload the
    assistant offered in this conversation acts as an intent (bot/payloads.py)."""
    metadata = {k: v for k, v in (inbound.metadata or {}).items() if k != payloads.MARK}
    if await payloads.was_offered(services.async_redis(), inbound.sender_id, inbound.text):
        metadata[payloads.MARK] = True
    return metadata or None


def _replier(services: Services, inbound: Inbound,
             output: OutputChannel) -> handoff_inbound.Say:
    """Our own reply outside Rasa: to the customer, and into the contact record."""

    async def say(text: str) -> None:
        await output.send_text_message(inbound.sender_id, text)
        await _record_reply(services, inbound, text)

    return say


async def _fail_open(services: Services, inbound: Inbound, output: OutputChannel,
                     with_message: bool) -> None:
    """The bot failed: apologise, keep the message, and pass the customer to a person (or
    offer a callback); if even the queue is down, the apology says the message is saved."""
    text = APOLOGY
    try:
        intake = await asyncio.to_thread(
            hand_over, services.redis, services.settings,
            Handoff(sender_id=inbound.sender_id, channel=inbound.channel, skill="general",
                    reason="bot_failure", priority=2,
                    transcript=[{"from": "customer", "text": mask_secrets(inbound.text)}]))
        text = f"{APOLOGY_SHORT} {intake.message}"
    except Exception as exc:  # noqa: BLE001  # the queue failed too: the apology still goes out
        log.error("handoff.not_queued", reason="bot_failure", error=type(exc).__name__,
                  conversation=conversation_ref(inbound.sender_id))
    await output.send_text_message(inbound.sender_id, text)  # first: whatever else is down
    try:
        if with_message:  # Rasa never saved it
            await handoff_inbound.record(services.async_redis(), inbound.for_handoff())
        await _record_reply(services, inbound, text)
    except RedisError as exc:
        metrics.redis_error("gateway")
        log.error("message.not_recorded", error=type(exc).__name__,
                  conversation=conversation_ref(inbound.sender_id))


async def _record_reply(services: Services, inbound: Inbound, text: str) -> None:
    await events.publish_async(services.async_redis(),
                               events.bot_message(inbound.sender_id, text))


class _Counting(OutputChannel):
    """Passes every reply on to the channel's output, counts them, and remembers the buttons
    offered (the only payloads the customer may send back as intents)."""

    def __init__(self, services: Services, output: OutputChannel, sender_id: str) -> None:
        self.services, self.output, self.sent, self.sender_id = services, output, 0, sender_id

    def name(self) -> str:  # type: ignore[override]  # Rasa picks channel-specific responses by it
        return self.output.name()

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        self.sent += 1
        await self._offered(message.get("buttons") or message.get("quick_replies") or [])
        await self.output.send_response(recipient_id, message)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.sent += 1
        await self.output.send_text_message(recipient_id, text, **kwargs)

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        self.sent += 1
        await self._offered(buttons)
        await self.output.send_text_with_buttons(recipient_id, text, buttons, **kwargs)

    async def _offered(self, buttons: list[dict[str, Any]]) -> None:
        await payloads.remember_offered(self.services.async_redis(), self.sender_id, buttons)
