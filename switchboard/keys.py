"""Deployment secrets: the API token (contacts REST API, later the other operator APIs) and the
secret key (one-time code digests, later console sessions).

Each comes from its environment variable, or is made randomly on first use and kept in the data
directory (readable by its owner only), so a fresh install is never open and never shares keys.
"""

from __future__ import annotations

import hmac
import os
import secrets
import tempfile
from pathlib import Path

from switchboard.settings import Settings


def api_token(settings: Settings) -> str:
    """``SWITCHBOARD_API_TOKEN`` or ``var/api-token``."""
    return settings.api_token or _persistent_secret(settings.data_dir / "api-token")


def secret_key(settings: Settings) -> str:
    """``SWITCHBOARD_SECRET_KEY`` or ``var/secret-key``."""
    return settings.secret_key or _persistent_secret(settings.data_dir / "secret-key")


def rasa_api_token(settings: Settings) -> str:
    """The token of Rasa's HTTP API: ``RASA_API_TOKEN`` or one derived from the secret key (the
    API is always on: handoff appends ConversationPaused/Resumed to trackers through it)."""
    if settings.rasa_api_token:
        return settings.rasa_api_token
    return hmac.new(secret_key(settings).encode(), b"rasa-api", "sha256").hexdigest()


def telegram_secret(settings: Settings) -> str:
    """The secret Telegram sends in ``X-Telegram-Bot-Api-Secret-Token``: ``TELEGRAM_WEBHOOK_SECRET``
    or one derived from the secret key (so the poller and the webhook agree without setup)."""
    if settings.telegram_webhook_secret:
        return settings.telegram_webhook_secret
    digest = hmac.new(secret_key(settings).encode(), b"telegram-webhook", "sha256").hexdigest()
    return digest[:48]  # Telegram allows 1-256 characters of A-Z, a-z, 0-9, _ and -


def rest_token(settings: Settings) -> str:
    """The bearer token REST integrations send: ``REST_CHANNEL_TOKEN`` or one derived from the
    secret key (``switchboard keys`` prints it)."""
    return settings.rest_token or _derived(settings, b"rest-channel")


def action_server_token(settings: Settings) -> str:
    """The shared secret Rasa sends the action server: ``ACTION_SERVER_TOKEN`` or derived."""
    return settings.action_server_token or _derived(settings, b"action-server")


def derived_key(settings: Settings, purpose: bytes) -> bytes:
    """A key for one purpose (signing web chat sessions, verified identities), derived from the
    secret key so that one leaked purpose key reveals nothing about the others (HMAC-SHA256 as a
    KDF, RFC 2104)."""
    return hmac.new(secret_key(settings).encode(), purpose, "sha256").digest()


def _derived(settings: Settings, purpose: bytes) -> str:
    return hmac.new(secret_key(settings).encode(), purpose, "sha256").hexdigest()


def token_matches(expected: str, authorization: str | None) -> bool:
    """Whether an ``Authorization: Bearer <token>`` header carries the expected token."""
    scheme, _, given = (authorization or "").partition(" ")
    # bytes: compare_digest refuses non-ASCII str, and a header may carry anything
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "surrogateescape"), expected.encode())


def _persistent_secret(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole to a private temporary file, then linked into place: processes starting
        # together all end up reading the one value that won, never a half-written file.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    return path.read_text().strip()
