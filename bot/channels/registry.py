"""Which channel sends to a conversation, from any process (the Rasa server, the action server,
the console, the queue clock): each channel module registers how to write to its addresses, and
the modules are the ones credentials.yml names, so a new channel is one file plus a line there.

A conversation id is ``<channel>:<address>`` (``sms:447700900001``, ``telegram:-100123:42``,
``webchat:<session>``); a channel that answers only within its request (REST) registers nothing.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable

import yaml
from rasa.core.channels.channel import OutputChannel

from switchboard.settings import PROJECT_ROOT, Settings

# address -> the channel's output, or None when the address is not one of the channel's
OutputFactory = Callable[[str, Settings], "OutputChannel | None"]
_factories: dict[str, OutputFactory] = {}


class NoOutboundChannel(ValueError):
    """This conversation's channel cannot be written to later (REST answers in its response)."""


def register_output(channel: str, factory: OutputFactory) -> None:
    """Called by a channel module when imported: how to send to ``<channel>:<address>``."""
    _factories[channel] = factory


@functools.cache
def load_channels() -> tuple[str, ...]:
    """Import every channel module credentials.yml names (they register themselves)."""
    names = yaml.safe_load((PROJECT_ROOT / "credentials.yml").read_text()) or {}
    modules = sorted({name.rsplit(".", 1)[0] for name in names})
    for module in modules:
        importlib.import_module(module)
    return tuple(modules)


def output_for(sender_id: str, settings: Settings) -> OutputChannel:
    """The output that writes to this conversation. Raises NoOutboundChannel."""
    load_channels()
    channel, _, address = sender_id.partition(":")
    factory = _factories.get(channel)
    output = factory(address, settings) if factory and address else None
    if output is None:
        raise NoOutboundChannel(
            f"no outbound channel for conversations like {channel or sender_id!r}")
    return output
