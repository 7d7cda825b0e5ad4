"""The API token that protects the contacts REST API (and, later, the other operator APIs)."""

from __future__ import annotations

import hmac
import os
import secrets

from switchboard.settings import Settings


def api_token(settings: Settings) -> str:
    """``SWITCHBOARD_API_TOKEN``, or a random token made on first use and kept in the data
    directory (``var/api-token``, readable by its owner only), so a fresh install is never open."""
    if settings.api_token:
        return settings.api_token
    path = settings.data_dir / "api-token"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def token_matches(expected: str, authorization: str | None) -> bool:
    """Whether an ``Authorization: Bearer <token>`` header carries the expected token."""
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), expected)
