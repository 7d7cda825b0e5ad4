"""What Switchboard changes in the Rasa server it runs (Rasa's own CLI): fixes applied before
it starts, and ``/metrics`` on the app it builds. The process's entry point is
``processes/rasa_server.py``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from jsonschema import validators
from jsonschema.exceptions import best_match
from rasa.core.actions.action import RemoteAction
from rasa.nlu.classifiers.regex_message_handler import RegexMessageHandler
from rasa.shared.core.domain import Domain
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.nlu.training_data.message import Message

from bot import payloads


@functools.cache
def _action_response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Rasa's check of an action server response, with the schema compiled once.

    ``jsonschema.validate`` re-checks Rasa's large events schema on every call: that cost
    about 25 ms of CPU per custom action, more than the whole NLU pipeline. Same checks,
    same errors (the best match, with Rasa's hint appended).
    """
    error = best_match(_action_response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response "
        "from the Action endpoint is valid."
    )
    raise error


def _unpack_offered_payloads(self: RegexMessageHandler, messages: list[Message],
                             domain: Domain | None = None) -> list[Message]:
    """Rasa's ``/intent{...}`` unpacking, for the payloads the gateway marked as offered by the
    assistant only (bot/payloads.py); typed text that starts with ``/`` stays text for the NLU,
    and is never echoed into a "failed to parse" warning either."""
    return [YAMLStoryReader.unpack_regex_message(m, domain, entity_extractor_name=self.name)
            if payloads.is_marked(m.get("metadata")) else m for m in messages]


# Sanic reads a body of up to 100 MB (its default) before any handler checks a signature or a
# token. Every channel's message is far smaller (a Telegram update, a Twilio form, 4,096
# characters over REST, the API's tracker calls): larger is refused with 413 unread.
MAX_REQUEST_BYTES = 1024 * 1024


def apply_fixes() -> None:
    RemoteAction._validate_action_result = _validate_action_result
    RegexMessageHandler.process = _unpack_offered_payloads


def serve_metrics(data_dir: Path, port: int) -> None:
    """``GET /metrics`` on the app Rasa builds (``rasa.core.run.configure_app``, which
    ``serve_application`` calls by its module name), before its workers fork; their samples
    go to one directory per server (switchboard.metrics)."""
    import rasa.core.run

    from switchboard import metrics

    metrics.prepare(data_dir, "rasa", port)
    configure_app = rasa.core.run.configure_app

    @functools.wraps(configure_app)
    def with_metrics(*args: Any, **kwargs: Any) -> Any:
        app = configure_app(*args, **kwargs)
        metrics.add_route(app)
        app.config.REQUEST_MAX_SIZE = MAX_REQUEST_BYTES
        return app

    rasa.core.run.configure_app = with_metrics
