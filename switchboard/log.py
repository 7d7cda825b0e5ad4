"""Structured logging for every Switchboard process, free of personal data.

Log lines are JSON (or readable key=value in a terminal with ``LOG_FORMAT=console``). Never log
message text, phone numbers, codes or raw conversation ids: log ``conversation_ref(sender_id)``,
a short one-way pseudonym that still lets an operator follow one conversation across processes.
"""

from __future__ import annotations

import hashlib
import logging
import sys

import structlog

from switchboard.settings import Settings, load_settings


def configure_logging(settings: Settings | None = None) -> None:
    """Route stdlib logging and structlog through one structured renderer on stderr."""
    settings = settings or load_settings()
    renderer = (
        structlog.dev.ConsoleRenderer(colors=False)
        if settings.log_format == "console"
        else structlog.processors.JSONRenderer()
    )
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


def conversation_ref(sender_id: str) -> str:
    """A stable pseudonym for a conversation id (which may be a phone number or chat id)."""
    return hashlib.sha256(sender_id.encode("utf-8")).hexdigest()[:12]
