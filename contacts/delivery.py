"""Replies a channel could not deliver, and recipients that cannot be written to: what every
channel's sender shares (Telegram, SMS, WhatsApp).

A provider refusing a reply is not a bot failure: the sender classifies the provider's error
itself (retry, permanent, unreachable), never raises it to the gateway, and records here

- the undelivered reply, kept in the contact record with its delivery state
  (``record_undelivered``: a ``system`` touch, after the reply it concerns);
- a recipient that will take nothing more (blocked the bot, opted out): ``mark_unreachable``,
  so no process sends to them until they write again (``reachable_again``).

The unreachable mark lives in Redis, next to the other per-conversation state every process
reads, and lapses after ``UNREACHABLE_SECONDS``: a later send then asks the provider again.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from contacts import events
from contacts.masking import mask_secrets

UNREACHABLE_SECONDS = 30 * 24 * 3600  # a block is asked about again after 30 days


def _unreachable_key(channel: str, address: str | int) -> str:
    return f"switchboard:unreachable:{channel}:{address}"


async def record_undelivered(client: aioredis.Redis, sender_id: str, text: str, channel: str,
                             code: str | int, permanent: bool) -> None:
    """Keep a reply that did not reach the customer in their contact record.

    ``code`` is the provider's own error code (Telegram's ``error_code`` such as 403, Twilio's
    such as 21610); ``permanent``: the provider said it will never take this message (blocked,
    invalid recipient), as opposed to a transient failure the sender gave up retrying. The text
    is masked here (a PUK in a reply), as everything on the contact event stream is.
    """
    await events.publish_async(client, events.undelivered(sender_id, mask_secrets(text), channel,
                                                          code, permanent))


async def mark_unreachable(client: aioredis.Redis, channel: str, address: str | int,
                           code: str | int) -> None:
    """The recipient at ``address`` takes nothing more (e.g. Telegram 403 "bot was blocked by
    the user"): senders skip them until ``reachable_again``."""
    await client.set(_unreachable_key(channel, address), str(code), ex=UNREACHABLE_SECONDS)


async def unreachable_code(client: aioredis.Redis, channel: str, address: str | int) -> str | None:
    """The provider's code that made the recipient unreachable, or None if they are not."""
    return await client.get(_unreachable_key(channel, address))


async def reachable_again(client: aioredis.Redis, channel: str, address: str | int) -> bool:
    """The recipient wrote to us (or unblocked us): deliver to them again. True if they had
    been unreachable."""
    return bool(await client.delete(_unreachable_key(channel, address)))
