"""The action server's process: ``python -m processes.action_server``.

rasa_sdk's app made an internal service (``actions/server.py``), on ``ACTION_SERVER_HOST``
and ``ACTION_SERVER_PORT``, with rasa_sdk's number of Sanic workers
(``ACTION_SERVER_SANIC_WORKERS``).
"""

from __future__ import annotations

from rasa_sdk import utils

from actions.server import build_app
from processes.ports import ensure_free
from switchboard import metrics
from switchboard.log import configure_logging
from switchboard.services import Services, install
from switchboard.settings import load_settings


def main() -> None:
    # rasa_sdk constructs the actions itself (no argument of ours): they take these Services.
    services = install(Services(load_settings()))
    settings = services.settings
    ensure_free("actions", settings.action_server_host, settings.action_port)
    metrics.prepare(settings.data_dir, "actions", settings.action_port)
    app = build_app(settings)
    configure_logging(settings)  # after rasa_sdk imported the actions and set up its own
    app.run(settings.action_server_host, settings.action_port,
            workers=utils.number_of_sanic_workers(), access_log=False)


if __name__ == "__main__":
    main()
