"""The agent console, under ``/console``: login, the live queue, conversations, supervision.

Served by the console process (processes/console.py, ``CONSOLE_PORT``). Pages are rendered on the
server with every customer text HTML-escaped; a small script (static/console.js) keeps them live
over one WebSocket and inserts new text with ``textContent`` only.

- ``auth``: server-side sessions (handoff/logins.py), CSRF tokens, login and logout, login
  required everywhere.
- ``pages``: the queue, a conversation, the supervisor view.
- ``chat_actions``: what an agent does to a chat (take, reply, note, transfer, return, close).
- ``live``: the WebSocket: snapshots of queue and presence, new customer messages, heartbeats.
"""

from pathlib import Path

from sanic import Blueprint

blueprint = Blueprint("console", url_prefix="/console")
blueprint.static("/static", str(Path(__file__).parent / "static"))

from handoff.console import auth, chat_actions, live, pages  # noqa: E402,F401  # routes
