"""The console's HTML frame. Everything that came from a customer or an agent goes through
``escape``."""

from __future__ import annotations

import html
from typing import Any

# On every console response (auth.security_headers). The pages have no inline script or
# style (console.js and console.css are files), so 'self' is all they need.
CONTENT_SECURITY_POLICY = ("default-src 'self'; frame-ancestors 'none'; object-src 'none'; "
                           "base-uri 'none'; form-action 'self'")
SECURITY_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY,
                    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer"}


def escape(text: Any) -> str:
    return html.escape(str(text), quote=True)


def page(title: str, body: str, live: bool = True, data: str = "") -> str:
    """A console page; ``live`` adds the script that keeps it current over the WebSocket."""
    script = '<script src="/console/static/console.js" defer></script>' if live else ""
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>{escape(title)} — Switchboard console</title>"
            f'<link rel="stylesheet" href="/console/static/console.css">{script}</head>'
            f"<body {data}><header><h1>{escape(title)}</h1>"
            f'<span id="connection" aria-live="polite"></span></header>{body}</body></html>')
