"""Keep the Rasa tracker truthful about handoffs: ConversationPaused when an agent's queue takes
a conversation, ConversationResumed when it returns to the bot (through Rasa's HTTP API, so any
process can do it)."""

from __future__ import annotations

import time
import urllib.parse

import aiohttp

from switchboard.keys import rasa_api_token
from switchboard.log import conversation_ref, get_logger
from switchboard.settings import Settings

log = get_logger(__name__)


async def resume(sender_id: str, settings: Settings) -> bool:
    """Append ConversationResumed, then action_listen (a paused tracker stopped before it, and
    the dialogue rules expect the next message to follow one); False (logged) if Rasa could not
    be reached."""
    now = time.time()
    return await _append(sender_id, [{"event": "resume", "timestamp": now},
                                     {"event": "action", "name": "action_listen",
                                      "timestamp": now}], settings)


async def _append(sender_id: str, event: list[dict], settings: Settings) -> bool:
    url = (f"{settings.rasa_base_url}/conversations/"
           f"{urllib.parse.quote(sender_id, safe='')}/tracker/events")
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session, \
                session.post(url, json=event, params={"token": rasa_api_token(settings)}) as answer:
            if answer.status == 200:
                return True
            log.error("tracker.event_refused", status=answer.status,
                      conversation=conversation_ref(sender_id))
    except aiohttp.ClientError as exc:
        log.error("tracker.unreachable", error=type(exc).__name__,
                  conversation=conversation_ref(sender_id))
    return False
