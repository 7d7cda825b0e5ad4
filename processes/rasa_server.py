"""The Rasa server's process: ``python -m processes.rasa_server run ...``, with the same
arguments as ``rasa run`` (or ``shell``).

Rasa constructs our channels (credentials.yml), tracker and lock stores (endpoints.yml)
itself, with no argument of ours: they take the ``Services`` installed here. Its fixes and
``/metrics`` come from ``bot/server.py``; the API token comes by environment and is added to
Rasa's argv here, never on the command line other users can read (ps).
"""

from __future__ import annotations

import sys

from bot.server import apply_fixes, serve_metrics
from processes.ports import ensure_free
from switchboard.keys import rasa_api_token
from switchboard.log import install_redaction
from switchboard.services import Services, install
from switchboard.settings import load_settings


def _port(argv: list[str], default: int) -> int:
    for flag in ("--port", "-p"):
        if flag in argv[:-1]:
            return int(argv[argv.index(flag) + 1])
    return default


def main() -> None:
    services = install(Services(load_settings()))
    settings = services.settings
    install_redaction()  # Rasa's own log lines may quote a customer's message
    port = _port(sys.argv, settings.rasa_port)
    if sys.argv[1:2] == ["run"]:  # `shell` serves too, but is a user's own terminal
        ensure_free("rasa", "0.0.0.0", port)
    apply_fixes()
    serve_metrics(settings.data_dir, port)
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    if "--enable-api" in sys.argv and "--auth-token" not in sys.argv:
        sys.argv += ["--auth-token", rasa_api_token(settings)]
    rasa_main()


if __name__ == "__main__":
    main()
