"""Structured logging for every Switchboard process, free of personal data.

Log lines are JSON (or readable key=value in a terminal with ``LOG_FORMAT=console``). Never log
message text, phone numbers, codes or raw conversation ids: log ``conversation_ref(sender_id)``,
a short one-way pseudonym that still lets an operator follow one conversation across processes.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys

import structlog

from switchboard.settings import Settings


def configure_logging(settings: Settings) -> None:
    """Route stdlib logging and structlog through one structured renderer on stderr."""
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
    install_redaction()


# Our own modules log no customer text by construction; every other library's lines (Rasa,
# Sanic, rasa_sdk, aiohttp, ...) pass through redaction, since any of them may quote a message.
OWN_PACKAGES = ("switchboard", "bot", "actions", "contacts", "handoff", "accounts",
                "verification", "operations")
_QUOTED_TEXT = re.compile(
    r"""(?i)(["']?\b(?:user_)?(?:text|message|parse_data_text|body)["']?\s*[:=]\s*)"""
    r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")
_DIGITS = re.compile(r"\d{4,}")  # codes, passwords, PUKs, phone numbers
_factory_installed = False


def redact(line: str) -> str:
    """A third-party log line without what may be customer text: quoted values of text-like
    fields, and every run of four or more digits."""
    line = _QUOTED_TEXT.sub(lambda m: f'{m.group(1)}"[redacted]"', line)
    return _DIGITS.sub("[redacted]", line)


def install_redaction() -> None:
    """Make every log record of a library outside Switchboard carry a redacted message (a
    record factory: it applies whichever handler or formatter the library configures)."""
    global _factory_installed
    if _factory_installed:
        return
    make_record = logging.getLogRecordFactory()

    def redacting(name: str | None, *args: object, **kwargs: object) -> logging.LogRecord:
        record = make_record(name, *args, **kwargs)
        if (name or "").split(".", 1)[0] not in OWN_PACKAGES and not isinstance(record.msg, dict):
            try:
                record.msg, record.args = redact(record.getMessage()), ()
            except Exception:  # noqa: BLE001  # a malformed record: keep none of its text
                record.msg, record.args = "[unrenderable log message]", ()
        return record

    logging.setLogRecordFactory(redacting)
    _factory_installed = True


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


def conversation_ref(sender_id: str) -> str:
    """A stable pseudonym for a conversation id (which may be a phone number or chat id)."""
    return hashlib.sha256(sender_id.encode("utf-8")).hexdigest()[:12]
