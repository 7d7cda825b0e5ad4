"""The Rasa server as Switchboard runs it: Rasa's own CLI, plus our fixes applied first.

Run as ``python -m bot.server run ...`` with the same arguments as ``rasa run``.
"""

from __future__ import annotations

import functools
import sys
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


def serve_metrics(port: int) -> None:
    """``GET /metrics`` on the app Rasa builds (``rasa.core.run.configure_app``, which
    ``serve_application`` calls by its module name), before its workers fork; their samples
    go to one directory per server (switchboard.metrics)."""
    import rasa.core.run

    from switchboard import metrics
    from switchboard.settings import load_settings

    metrics.prepare(load_settings().data_dir, "rasa", port)
    configure_app = rasa.core.run.configure_app

    @functools.wraps(configure_app)
    def with_metrics(*args: Any, **kwargs: Any) -> Any:
        app = configure_app(*args, **kwargs)
        metrics.add_route(app)
        app.config.REQUEST_MAX_SIZE = MAX_REQUEST_BYTES
        return app

    rasa.core.run.configure_app = with_metrics


def _port(argv: list[str], default: int) -> int:
    for flag in ("--port", "-p"):
        if flag in argv[:-1]:
            return int(argv[argv.index(flag) + 1])
    return default


def main() -> None:
    from switchboard.log import install_redaction
    from switchboard.services import Services, install
    from switchboard.settings import load_settings

    # The channels, stores and gateway Rasa constructs from credentials.yml and endpoints.yml
    # take this process's Services from here (switchboard/services.py).
    install(Services(load_settings()))
    install_redaction()  # Rasa's own log lines may quote a customer's message
    apply_fixes()
    serve_metrics(_port(sys.argv, load_settings().rasa_port))
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    if "--enable-api" in sys.argv and "--auth-token" not in sys.argv:
        # The token comes by environment: argv is visible to every local user (ps); what is
        # added to sys.argv here is not.
        from switchboard.keys import rasa_api_token
        from switchboard.settings import load_settings

        sys.argv += ["--auth-token", rasa_api_token(load_settings())]
    rasa_main()


if __name__ == "__main__":
    main()
