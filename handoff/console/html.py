"""The console's HTML frame. Everything that came from a customer or an agent goes through
``escape``."""

from __future__ import annotations

import html
from datetime import datetime, timezone
from typing import Any

# On every console response (auth.security_headers). The pages have no inline script or
# style (console.js and console.css are files), so 'self' is all they need.
CONTENT_SECURITY_POLICY = ("default-src 'self'; frame-ancestors 'none'; object-src 'none'; "
                           "base-uri 'none'; form-action 'self'")
SECURITY_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY,
                    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer"}

# The keyboard shortcuts, as the ``?`` overlay lists them (console.js implements them).
SHORTCUTS = (("Alt + ↓ or j", "next conversation"), ("Alt + ↑ or k", "previous conversation"),
             ("Alt + N", "take the next waiting chat"), ("Alt + B", "return the chat to the bot"),
             ("Alt + C", "close the chat (choose a disposition)"),
             ("Alt + T", "transfer the chat"), ("Enter", "send the reply"),
             ("Shift + Enter", "new line in the reply"), ("/ and letters", "canned answers"),
             ("?", "this list"), ("Esc", "close a list or this overlay"))


def escape(text: Any) -> str:
    return html.escape(str(text), quote=True)


def clock(at: datetime | None) -> str:
    """A ``<time>`` with the moment in ISO 8601 (console.js shows it in the agent's zone) and
    HH:MM UTC until it does."""
    if at is None:
        return ""
    at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    return f'<time datetime="{escape(at.isoformat())}">{at:%H:%M}</time>'


def mask_number(msisdn: str) -> str:
    """A phone number as the lists show it: the last four digits only."""
    digits = "".join(c for c in msisdn if c.isdigit())
    return f"••• {digits[-4:]}" if len(digits) >= 4 else "•••"


def page(title: str, body: str, live: bool = True, data: str = "", nav: str = "") -> str:
    """A console page; ``live`` adds the script that keeps it current over the WebSocket, the
    alert switch and the keyboard-shortcut overlay. ``nav``: links and forms in the top bar."""
    script = '<script src="/console/static/console.js" defer></script>' if live else ""
    extra = ""
    if live:
        keys = "".join(f"<dt><kbd>{escape(k)}</kbd></dt><dd>{escape(v)}</dd>"
                       for k, v in SHORTCUTS)
        nav += ('<label class="switch"><input type="checkbox" id="alerts"> Alerts</label>'
                '<button type="button" id="help-open" aria-haspopup="dialog" '
                'title="Keyboard shortcuts">?</button>')
        extra = (f'<dialog id="help" aria-labelledby="help-title"><h2 id="help-title">Keyboard '
                 f'shortcuts</h2><dl class="keys">{keys}</dl><form method="dialog">'
                 f'<button>Close</button></form></dialog>'
                 '<div id="toasts" class="toasts" role="status" aria-live="polite"></div>')
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>{escape(title)} — Switchboard console</title>"
            f'<link rel="stylesheet" href="/console/static/console.css">{script}</head>'
            f'<body {data}><header class="topbar"><span class="brand">Switchboard</span>'
            f'<h1>{escape(title)}</h1><span id="connection" aria-live="polite"></span>'
            f'<nav class="topnav" aria-label="Console">{nav}</nav></header>{body}{extra}'
            f"</body></html>")
