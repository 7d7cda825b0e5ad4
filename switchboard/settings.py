"""The one settings loader: every Switchboard process reads its configuration here.

All configuration comes from environment variables with defaults that run the whole helpdesk
on one machine. No other module reads ``os.environ`` for Switchboard settings.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from handoff.hours import OpeningHours, parse_hours

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _addresses(env: Mapping[str, str], name: str) -> tuple[tuple[str, int], ...]:
    """``host:port,host:port`` as pairs; ValueError names the variable on a malformed one."""
    pairs = []
    for item in filter(None, (part.strip() for part in env.get(name, "").split(","))):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"{name} must be host:port[,host:port...], got {item!r}")
        pairs.append((host, int(port)))
    return tuple(pairs)


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = env.get(name, "").strip().lower() or default
    if raw not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return raw


@dataclass(frozen=True)
class PoolOptions:
    """A server database's connection pool, per process (SQLite files keep a fixed local pool).

    ``size`` connections kept open, ``overflow`` more opened under load, ``timeout`` seconds a
    request waits for a free one (then TimeoutError, a 503), ``connect_timeout`` seconds to
    reach the server, ``statement_timeout`` seconds one statement may run (0: no limit).
    Budget: replicas x (size + overflow) must stay under the server's ``max_connections``.
    """

    size: int = 5
    overflow: int = 10
    timeout: float = 30.0
    connect_timeout: float = 10.0
    statement_timeout: float = 0.0


@dataclass(frozen=True)
class ServiceTarget:
    """A skill's service targets (seconds): ``first`` from joining the queue to an agent's
    first reply, ``next`` from a customer's message with an agent to the agent's reply."""

    first: float = 60.0
    next: float = 120.0


def _skill_targets(env: Mapping[str, str], name: str) -> tuple[tuple[str, ServiceTarget], ...]:
    """``billing=60/120, complaints=120/300``: a skill's first/next-response targets in
    seconds, for the skills of the queue (handoff.queue.SKILLS). Raises ValueError naming the
    variable and the faulty item."""
    from handoff.queue import SKILLS  # here, not at the top: the queue's modules read settings

    parsed: dict[str, ServiceTarget] = {}
    for item in filter(None, (part.strip() for part in re.split(r"[,;]", env.get(name, "")))):
        match = re.fullmatch(r"([^=\s]+)\s*=\s*([^/\s]+)\s*/\s*([^/\s]+)", item)
        if match is None:
            raise ValueError(f"{name}: {item!r} is not skill=first/next seconds "
                             "(e.g. complaints=120/300)")
        skill = match.group(1)
        if skill not in SKILLS:
            raise ValueError(f"{name}: no skill {skill!r}; skills: {', '.join(SKILLS)}")
        if skill in parsed:
            raise ValueError(f"{name}: {skill} is given twice")
        parsed[skill] = ServiceTarget(*(_seconds(name, item, match.group(n)) for n in (2, 3)))
    return tuple(sorted(parsed.items()))


def _seconds(name: str, item: str, raw: str) -> float:
    """A target in seconds: a finite number above zero (as ``to_env`` writes it back)."""
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: {item!r}: {raw!r} is not a positive number of seconds")
    return value


@dataclass(frozen=True)
class Settings:
    """Configuration of one Switchboard deployment (see the README's configuration table)."""

    data_dir: Path
    redis_url: str | None  # None: the launcher starts an embedded redis-server
    # Sentinel addresses (host:port): the Redis primary is asked of them, and followed after a
    # failover; REDIS_URL then gives only the password and database number.
    redis_sentinels: tuple[tuple[str, int], ...]
    redis_sentinel_service: str  # the primary's name in the sentinels' configuration
    embedded_redis_port: int
    rasa_port: int
    rasa_url: str | None  # how other processes reach the Rasa server (None: its loopback port)
    action_port: int
    rasa_workers: int
    rasa_api_token: str | None
    model_dir: Path
    log_level: str
    log_format: str  # "json" or "console"
    tf_threads: int
    database_url: str  # SQLite file in data_dir unless DATABASE_URL says otherwise
    database_pool: PoolOptions  # a server database's pool per process (DATABASE_POOL_*)
    console_port: int
    recorder_port: int  # the contact recorder's /health and /metrics
    queue_clock_port: int  # the queue clock's /health and /metrics
    api_token: str | None  # None: generated once and kept in data_dir (see switchboard.keys)
    contact_timeout_minutes: float
    accounts_backend: str  # module:Class of the operator back end
    demo_data: bool  # seed the demo subscribers on start
    secret_key: str | None  # None: generated once and kept in data_dir (see switchboard.secrets)
    sms_gateway: str  # "outbox" or "twilio"
    twilio_account_sid: str | None
    twilio_auth_token: str | None
    twilio_from: str | None
    twilio_whatsapp_from: str | None  # the WhatsApp sender, whatsapp:+44... (not TWILIO_FROM)
    twilio_api_url: str
    public_url: str | None  # how the outside world reaches the Rasa server (webhook signatures)
    telegram_token: str | None
    telegram_webhook_secret: str | None
    telegram_api_url: str
    telegram_mode: str  # "webhook" (Telegram calls us) or "polling" (we ask Telegram)
    handoff_max_wait_minutes: float
    handoff_hours: str  # when agents work, e.g. "Mon-Fri 08:00-20:00; Sat 09:00-13:00"
    handoff_timezone: str  # the IANA zone of those hours
    agent_timeout_seconds: float  # a console page silent this long: its agent is offline
    reply_timeout_minutes: float  # an agent silent this long on a waiting customer: requeued
    auto_assign: bool  # the queue gives chats to the least-loaded online agent by itself
    first_response_seconds: float  # service target: queued until an agent's first reply
    next_response_seconds: float  # service target: a customer's message until the agent's reply
    skill_targets: tuple[tuple[str, ServiceTarget], ...]  # skills whose targets differ
    # Trust boundaries (SECURITY.md)
    rest_token: str | None  # None: derived from the secret key (see switchboard.keys)
    action_server_host: str  # the interface the action server binds (127.0.0.1: internal)
    action_server_url: str | None  # None: http://127.0.0.1:<action port>/webhook
    action_server_token: str | None  # None: derived from the secret key
    webchat_session_days: float  # a web chat session token is good this long after its last use
    webchat_verified_idle_minutes: float  # web chat: verified identity lapses after this silence
    console_login_max_failures: int  # wrong passwords (per agent or per address) before a lock
    console_login_lock_minutes: float  # how long that lock lasts
    console_idle_minutes: float  # a console session unused this long is ended
    console_secure_cookies: str  # "auto" (Secure when the public URL is https), "true", "false"
    # Retention and erasure
    tracker_ttl_days: float  # a Rasa tracker untouched this long is deleted from Redis
    contact_retention_days: float  # contact records older than this are anonymised by a sweep

    def __post_init__(self) -> None:
        self.opening_hours  # noqa: B018  # a typo in the hours fails at start, not at 8 a.m.

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("SWITCHBOARD_DATA_DIR") or PROJECT_ROOT / "var")
        return cls(
            data_dir=data_dir,
            redis_url=env.get("REDIS_URL") or None,
            redis_sentinels=_addresses(env, "REDIS_SENTINELS"),
            redis_sentinel_service=env.get("REDIS_SENTINEL_SERVICE") or "switchboard",
            embedded_redis_port=_int(env, "SWITCHBOARD_REDIS_PORT", 6379),
            rasa_port=_int(env, "RASA_PORT", 5005),
            rasa_url=(env.get("RASA_URL") or "").rstrip("/") or None,
            action_port=_int(env, "ACTION_SERVER_PORT", 5055),
            rasa_workers=_int(env, "RASA_WORKERS", 2),
            rasa_api_token=env.get("RASA_API_TOKEN") or None,
            model_dir=Path(env.get("SWITCHBOARD_MODEL_DIR") or PROJECT_ROOT / "models"),
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
            log_format=(env.get("LOG_FORMAT") or "json").lower(),
            tf_threads=_int(env, "SWITCHBOARD_TF_THREADS", 1),
            database_url=env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'switchboard.db'}",
            database_pool=PoolOptions(
                size=_int(env, "DATABASE_POOL_SIZE", 5),
                overflow=_int(env, "DATABASE_MAX_OVERFLOW", 10),
                timeout=_float(env, "DATABASE_POOL_TIMEOUT", 30.0),
                connect_timeout=_float(env, "DATABASE_CONNECT_TIMEOUT", 10.0),
                statement_timeout=_float(env, "DATABASE_STATEMENT_TIMEOUT", 0.0)),
            console_port=_int(env, "CONSOLE_PORT", 8080),
            recorder_port=_int(env, "RECORDER_PORT", 8081),
            queue_clock_port=_int(env, "QUEUE_CLOCK_PORT", 8082),
            api_token=env.get("SWITCHBOARD_API_TOKEN") or None,
            contact_timeout_minutes=_float(env, "CONTACT_TIMEOUT_MINUTES", 30.0),
            accounts_backend=env.get("ACCOUNTS_BACKEND") or "accounts.sql:SqlAccountBackend",
            demo_data=_bool(env, "SWITCHBOARD_DEMO_DATA", True),
            secret_key=env.get("SWITCHBOARD_SECRET_KEY") or None,
            sms_gateway=_choice(env, "SMS_GATEWAY", ("outbox", "twilio"), "outbox"),
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or None,
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or None,
            twilio_from=env.get("TWILIO_FROM") or None,
            twilio_whatsapp_from=env.get("TWILIO_WHATSAPP_FROM") or None,
            twilio_api_url=env.get("TWILIO_API_URL") or "https://api.twilio.com",
            public_url=env.get("SWITCHBOARD_PUBLIC_URL") or None,
            telegram_token=env.get("TELEGRAM_BOT_TOKEN") or None,
            telegram_webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET") or None,
            telegram_api_url=env.get("TELEGRAM_API_URL") or "https://api.telegram.org",
            telegram_mode=_choice(env, "TELEGRAM_MODE", ("webhook", "polling"), "webhook"),
            handoff_max_wait_minutes=_float(env, "HANDOFF_MAX_WAIT_MINUTES", 15.0),
            handoff_hours=env.get("HANDOFF_OPENING_HOURS") or "Mon-Sun 08:00-22:00",
            handoff_timezone=env.get("HANDOFF_TIMEZONE") or "Europe/London",
            agent_timeout_seconds=_float(env, "HANDOFF_AGENT_TIMEOUT_SECONDS", 90.0),
            reply_timeout_minutes=_float(env, "HANDOFF_REPLY_TIMEOUT_MINUTES", 10.0),
            auto_assign=_bool(env, "HANDOFF_AUTO_ASSIGN", False),
            first_response_seconds=_float(env, "HANDOFF_FIRST_RESPONSE_SECONDS", 60.0),
            next_response_seconds=_float(env, "HANDOFF_NEXT_RESPONSE_SECONDS", 120.0),
            skill_targets=_skill_targets(env, "HANDOFF_SKILL_TARGETS"),
            rest_token=env.get("REST_CHANNEL_TOKEN") or None,
            action_server_host=env.get("ACTION_SERVER_HOST") or "127.0.0.1",
            action_server_url=env.get("ACTION_SERVER_URL") or None,
            action_server_token=env.get("ACTION_SERVER_TOKEN") or None,
            webchat_session_days=_float(env, "WEBCHAT_SESSION_DAYS", 30.0),
            webchat_verified_idle_minutes=_float(env, "WEBCHAT_VERIFIED_IDLE_MINUTES", 10.0),
            console_login_max_failures=_int(env, "CONSOLE_LOGIN_MAX_FAILURES", 5),
            console_login_lock_minutes=_float(env, "CONSOLE_LOGIN_LOCK_MINUTES", 15.0),
            console_idle_minutes=_float(env, "CONSOLE_IDLE_MINUTES", 30.0),
            console_secure_cookies=_choice(env, "CONSOLE_SECURE_COOKIES",
                                           ("auto", "true", "false"), "auto"),
            tracker_ttl_days=_float(env, "TRACKER_TTL_DAYS", 3.0),
            contact_retention_days=_float(env, "CONTACT_RETENTION_DAYS", 730.0),
        )

    def service_target(self, skill: str | None) -> ServiceTarget:
        """The skill's targets (HANDOFF_SKILL_TARGETS), else the default pair
        (HANDOFF_FIRST_RESPONSE_SECONDS, HANDOFF_NEXT_RESPONSE_SECONDS)."""
        return dict(self.skill_targets).get(skill or "") or ServiceTarget(
            self.first_response_seconds, self.next_response_seconds)

    def to_env(self) -> dict[str, str]:
        """These settings as the environment variables ``from_env`` reads (for child processes)."""
        env = {
            "SWITCHBOARD_DATA_DIR": str(self.data_dir),
            "REDIS_URL": self.effective_redis_url,
            "SWITCHBOARD_REDIS_PORT": str(self.embedded_redis_port),
            "RASA_PORT": str(self.rasa_port),
            "ACTION_SERVER_PORT": str(self.action_port),
            "RASA_WORKERS": str(self.rasa_workers),
            "SWITCHBOARD_MODEL_DIR": str(self.model_dir),
            "LOG_LEVEL": self.log_level,
            "LOG_FORMAT": self.log_format,
            "SWITCHBOARD_TF_THREADS": str(self.tf_threads),
            "DATABASE_URL": self.database_url,
            "DATABASE_POOL_SIZE": str(self.database_pool.size),
            "DATABASE_MAX_OVERFLOW": str(self.database_pool.overflow),
            "DATABASE_POOL_TIMEOUT": repr(self.database_pool.timeout),
            "DATABASE_CONNECT_TIMEOUT": repr(self.database_pool.connect_timeout),
            "CONSOLE_PORT": str(self.console_port),
            "RECORDER_PORT": str(self.recorder_port),
            "QUEUE_CLOCK_PORT": str(self.queue_clock_port),
            "CONTACT_TIMEOUT_MINUTES": repr(self.contact_timeout_minutes),
            "ACCOUNTS_BACKEND": self.accounts_backend,
            "SWITCHBOARD_DEMO_DATA": "true" if self.demo_data else "false",
            "SMS_GATEWAY": self.sms_gateway,
            "TWILIO_API_URL": self.twilio_api_url,
            "TELEGRAM_API_URL": self.telegram_api_url,
            "TELEGRAM_MODE": self.telegram_mode,
            "HANDOFF_MAX_WAIT_MINUTES": repr(self.handoff_max_wait_minutes),
            "HANDOFF_OPENING_HOURS": self.handoff_hours,
            "HANDOFF_TIMEZONE": self.handoff_timezone,
            "HANDOFF_AGENT_TIMEOUT_SECONDS": repr(self.agent_timeout_seconds),
            "HANDOFF_REPLY_TIMEOUT_MINUTES": repr(self.reply_timeout_minutes),
            "HANDOFF_AUTO_ASSIGN": "true" if self.auto_assign else "false",
            "HANDOFF_FIRST_RESPONSE_SECONDS": repr(self.first_response_seconds),
            "HANDOFF_NEXT_RESPONSE_SECONDS": repr(self.next_response_seconds),
            "HANDOFF_SKILL_TARGETS": ",".join(f"{skill}={t.first!r}/{t.next!r}"
                                              for skill, t in self.skill_targets),
            "ACTION_SERVER_HOST": self.action_server_host,
            "WEBCHAT_SESSION_DAYS": repr(self.webchat_session_days),
            "WEBCHAT_VERIFIED_IDLE_MINUTES": repr(self.webchat_verified_idle_minutes),
            "CONSOLE_LOGIN_MAX_FAILURES": str(self.console_login_max_failures),
            "CONSOLE_LOGIN_LOCK_MINUTES": repr(self.console_login_lock_minutes),
            "CONSOLE_IDLE_MINUTES": repr(self.console_idle_minutes),
            "CONSOLE_SECURE_COOKIES": self.console_secure_cookies,
            "TRACKER_TTL_DAYS": repr(self.tracker_ttl_days),
            "CONTACT_RETENTION_DAYS": repr(self.contact_retention_days),
        }
        for name, value in (("RASA_API_TOKEN", self.rasa_api_token),
                            ("SWITCHBOARD_API_TOKEN", self.api_token),
                            ("SWITCHBOARD_SECRET_KEY", self.secret_key),
                            ("TWILIO_ACCOUNT_SID", self.twilio_account_sid),
                            ("TWILIO_AUTH_TOKEN", self.twilio_auth_token),
                            ("TWILIO_FROM", self.twilio_from),
                            ("TWILIO_WHATSAPP_FROM", self.twilio_whatsapp_from),
                            ("SWITCHBOARD_PUBLIC_URL", self.public_url),
                            ("TELEGRAM_BOT_TOKEN", self.telegram_token),
                            ("TELEGRAM_WEBHOOK_SECRET", self.telegram_webhook_secret),
                            ("REST_CHANNEL_TOKEN", self.rest_token),
                            ("ACTION_SERVER_URL", self.action_server_url),
                            ("RASA_URL", self.rasa_url),
                            ("DATABASE_STATEMENT_TIMEOUT", self.database_pool.statement_timeout
                             and repr(self.database_pool.statement_timeout)),
                            ("REDIS_SENTINELS", ",".join(f"{h}:{p}"
                                                         for h, p in self.redis_sentinels)),
                            ("REDIS_SENTINEL_SERVICE", self.redis_sentinels
                             and self.redis_sentinel_service),
                            ("ACTION_SERVER_TOKEN", self.action_server_token)):
            if value:
                env[name] = value
        return env

    @property
    def opening_hours(self) -> OpeningHours:
        return parse_hours(self.handoff_hours, self.handoff_timezone)

    @property
    def embedded_redis(self) -> bool:
        """Whether the launcher starts its own redis-server (neither REDIS_URL nor sentinels)."""
        return self.redis_url is None and not self.redis_sentinels

    @property
    def effective_redis_url(self) -> str:
        """The Redis URL every process uses: the configured one or the embedded server's."""
        return self.redis_url or f"redis://127.0.0.1:{self.embedded_redis_port}/0"

    @property
    def rasa_base_url(self) -> str:
        """The Rasa server as the console, the queue clock and the poller reach it."""
        return self.rasa_url or f"http://127.0.0.1:{self.rasa_port}"

    @property
    def action_endpoint_url(self) -> str:
        return self.action_server_url or f"http://127.0.0.1:{self.action_port}/webhook"

    @property
    def secure_cookies(self) -> bool:
        """Whether console cookies carry ``Secure`` (the console is reached over HTTPS)."""
        if self.console_secure_cookies == "auto":
            return (self.public_url or "").lower().startswith("https://")
        return self.console_secure_cookies == "true"

    def rasa_endpoint_env(self) -> dict[str, str]:
        """Variables that ``endpoints.yml`` expands (Rasa only expands ``${VAR}`` unquoted).

        Rasa reads expanded values as strings, so only values that survive that are passed:
        ``TRACKER_TTL_SECONDS`` is whole digits, which redis-py's ``SET ... EX`` accepts as a
        string (the tracker store passes it on unconverted).
        """
        return {
            "ACTION_ENDPOINT_URL": self.action_endpoint_url,
            # Every save sets the tracker with this expiry, so it counts from the last message.
            "TRACKER_TTL_SECONDS": str(max(1, round(self.tracker_ttl_days * 86400))),
        }


def load_settings() -> Settings:
    """Settings of this process, read from its environment."""
    return Settings.from_env()
