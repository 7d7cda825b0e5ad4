"""Prometheus metrics of every Switchboard process: each metric defined here, once.

Every served process (the Rasa server, the action server, the console and contacts process)
exposes ``GET /metrics`` (``add_route``), open like ``/health`` and, like Rasa's HTTP API, for
the operator's network only. Its entry point calls ``prepare`` first: the process's samples go
to files in a private directory (``<data dir>/metrics/<process>-<port>``, emptied at start),
prometheus_client's multiprocess mode, so a scrape of any Sanic worker reports the sum over all
the process's workers, and a replaced worker's counts are kept. Without ``prepare`` (tests, the
CLI) the metrics simply live in this process's memory.

What the code records (every metric has labels: a labelled metric creates its per-process
value at its first ``labels(...)``, after ``prepare`` switched to multiprocess mode):

- ``switchboard_messages_total{channel,outcome}`` and ``switchboard_reply_latency_seconds``:
  the channel gateway, per customer message (``timed_delivery``; outcome ``error`` when the
  gateway raised, which the channel answers with a retryable status);
- ``switchboard_nlu_messages_total{channel,result}``: what the NLU made of each customer
  message (``understood``, ``nlu_fallback``, ``out_of_scope``): the fallback rate;
- ``switchboard_provider_send_errors_total{channel,code}``: a provider (Twilio, Telegram)
  refused or did not answer one send attempt (``provider_error``);
- ``switchboard_redis_errors_total{where}``, ``switchboard_database_errors_total{error}``:
  Redis errors where the code catches them; every error SQLAlchemy raises from any engine of
  the process (an engine event, ``prepare``), IntegrityError included (used for idempotency);
- ``switchboard_actions_total{action,status}``, ``switchboard_action_duration_seconds``: the
  action server.

What is read at scrape time (``StateCollector``, the console process only: the same values
from every replica, so dashboards take ``max``): queue length and longest wait by skill, agents
by status, the recorder's lag and the dead letters.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from switchboard.log import get_logger

log = get_logger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
disable_created_metrics()  # no ``_created`` series: the same names in both modes
# In this process's memory unless ``prepare`` was called; a scrape in multiprocess mode reads
# the files of every worker instead (``render``).
REGISTRY = CollectorRegistry()

MESSAGES = Counter(
    "switchboard_messages", "Customer messages through the channel gateway, by outcome "
    "(answered, duplicate, busy, to_agent, failed; error: the gateway raised, retryable).",
    ["channel", "outcome"], registry=REGISTRY)
REPLY_LATENCY = Histogram(
    "switchboard_reply_latency_seconds", "Time from a customer message reaching the gateway "
    "to its replies being handed to the channel.", ["channel", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0), registry=REGISTRY)
NLU_MESSAGES = Counter(
    "switchboard_nlu_messages", "Customer messages parsed by the NLU, by result (understood, "
    "nlu_fallback, out_of_scope).", ["channel", "result"], registry=REGISTRY)
PROVIDER_SEND_ERRORS = Counter(
    "switchboard_provider_send_errors", "Send attempts a provider (Twilio, Telegram) refused "
    "or did not answer, by the provider's code.", ["channel", "code"], registry=REGISTRY)
REDIS_ERRORS = Counter(
    "switchboard_redis_errors", "Redis errors caught, by where.", ["where"], registry=REGISTRY)
DATABASE_ERRORS = Counter(
    "switchboard_database_errors", "Errors raised by the database (SQLAlchemy), by class.",
    ["error"], registry=REGISTRY)
ACTIONS = Counter(
    "switchboard_actions", "Custom action calls, by action and status (ok, rejected, "
    "not_found, failed).", ["action", "status"], registry=REGISTRY)
ACTION_DURATION = Histogram(
    "switchboard_action_duration_seconds", "Time the action server took for one action call.",
    ["action"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY)

RECORDER_EVENTS = Counter(
    "switchboard_recorder_events", "Contact events the recorder took off its streams, by "
    "outcome (recorded in the database, dead_lettered).", ["outcome"], registry=REGISTRY)
CLOCK_TICKS = Counter(
    "switchboard_queue_clock_ticks", "Ticks of the queue's clock, by role: sweeper (held the "
    "lease and swept) or standby (another replica holds it).", ["role"], registry=REGISTRY)
CLOCK_STEPS = Counter(
    "switchboard_queue_clock_conversations", "Conversations the queue's clock acted on, by "
    "step (expired, requeued, assigned, told, anonymised).", ["step"], registry=REGISTRY)

RECORDED = (MESSAGES, REPLY_LATENCY, NLU_MESSAGES, PROVIDER_SEND_ERRORS, REDIS_ERRORS,
            DATABASE_ERRORS, ACTIONS, ACTION_DURATION, RECORDER_EVENTS, CLOCK_TICKS,
            CLOCK_STEPS)
FALLBACK_INTENTS = ("nlu_fallback", "out_of_scope")


# --- Recording ----------------------------------------------------------------------------

def provider_error(channel: str, code: str | int | None) -> None:
    """A provider refused (or did not answer) one send attempt: Telegram's ``error_code``
    (``403``, ``429``, ``network``), Twilio's error code (``21610``) or HTTP status."""
    PROVIDER_SEND_ERRORS.labels(channel, str(code) if code not in (None, "") else "unknown").inc()


def redis_error(where: str) -> None:
    """A RedisError was caught (and logged) at ``where``: a short, fixed name of the place."""
    REDIS_ERRORS.labels(where).inc()


def nlu_result(event: Mapping[str, Any]) -> None:
    """Count a customer message (a Rasa ``user`` event) by what the NLU made of it."""
    if event.get("event") != "user":
        return
    intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
    if not intent:
        return  # never parsed (e.g. recorded by the gateway for an agent)
    result = intent if intent in FALLBACK_INTENTS else "understood"
    NLU_MESSAGES.labels(str(event.get("input_channel") or "unknown"), result).inc()


_Deliver = TypeVar("_Deliver", bound=Callable[..., Awaitable[Any]])


def timed_delivery(deliver: _Deliver) -> _Deliver:
    """Wraps the gateway's ``deliver(inbound, ...)``: counts its outcome per channel and times
    it. An exception is outcome ``error`` (the channel answers a retryable status); a
    RedisError, which is what the gateway raises, also counts as a Redis error."""

    @functools.wraps(deliver)
    async def timed(inbound: Any, *args: Any, **kwargs: Any) -> Any:
        start, outcome = time.perf_counter(), "error"
        try:
            result = await deliver(inbound, *args, **kwargs)
            outcome = getattr(result, "value", str(result))
            return result
        except RedisError:
            redis_error("gateway")
            raise
        finally:
            MESSAGES.labels(inbound.channel, outcome).inc()
            REPLY_LATENCY.labels(inbound.channel, outcome).observe(time.perf_counter() - start)

    return timed  # type: ignore[return-value]


def _database_error(context: Any) -> None:
    """SQLAlchemy's ``handle_error`` engine event: every error of any engine."""
    error = context.sqlalchemy_exception or context.original_exception
    DATABASE_ERRORS.labels(type(error).__name__).inc()


# --- Serving ------------------------------------------------------------------------------

def metrics_dir(data_dir: Path, process: str, instance: str | int) -> Path:
    return Path(data_dir) / "metrics" / f"{process}-{instance}"


def prepare(data_dir: Path, process: str, instance: str | int) -> Path:
    """Multiprocess mode for this process and the workers it forks: a private, empty directory
    for their samples. Call in the process's entry point, before any metric is recorded."""
    # Every metric is labelled: an unlabelled one holds its value from import, in memory.
    if any(metric._metrics for metric in RECORDED):
        raise RuntimeError("metrics were recorded before switchboard.metrics.prepare()")
    path = metrics_dir(data_dir, process, instance)
    shutil.rmtree(path, ignore_errors=True)  # counts of an earlier run (and dead pids) go
    path.mkdir(mode=0o700, parents=True)
    os.environ[MULTIPROC_ENV] = str(path)
    values.ValueClass = values.get_value_class()  # prometheus_client chose it at import
    _count_database_errors()
    log.info("metrics.prepared", process=process, directory=str(path))
    return path


@functools.cache
def _count_database_errors() -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    event.listen(Engine, "handle_error", _database_error)


def render() -> bytes:
    """The exposition text of this process (all its workers in multiprocess mode)."""
    if not os.environ.get(MULTIPROC_ENV):
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(STATE)
    return generate_latest(registry)


async def serve(request: Any) -> Any:
    """``GET /metrics`` for a Sanic app (reading files and Redis off the event loop)."""
    from sanic.response import raw

    return raw(await asyncio.to_thread(render), content_type=CONTENT_TYPE_LATEST)


def add_route(app: Any) -> None:
    """``GET /metrics`` on a Sanic app (before it starts)."""
    app.add_route(serve, "/metrics", methods=["GET"], name="switchboard_metrics")


# --- Read at scrape time: the console process ---------------------------------------------

@dataclass(frozen=True)
class HelpdeskState:
    """What the console process reads from Redis when scraped."""

    queue: Mapping[str, Mapping[str, float]]  # skill -> {"waiting", "longest_wait"}
    agents: Mapping[str, int]  # status -> agents
    chats: Mapping[str, int]  # status -> chats held by those agents
    seats: Mapping[str, int]  # status -> capacity of those agents
    recorder_lag: int  # events appended, not yet in the database
    dead_letters: int  # events the recorder gave up on
    max_wait_seconds: float  # HANDOFF_MAX_WAIT_MINUTES: a wait this long ends


AGENT_STATUSES = ("online", "away", "offline")


STATE_GAUGES = {
    "switchboard_queue_length": "Conversations waiting for an agent, by skill.",
    "switchboard_queue_longest_wait_seconds": "How long the longest-waiting conversation of "
                                              "the skill has waited.",
    "switchboard_queue_max_wait_seconds": "HANDOFF_MAX_WAIT_MINUTES: a wait this long ends.",
    "switchboard_agents": "Agents by status (online, away, offline).",
    "switchboard_agent_chats": "Chats held by agents, by the agents' status.",
    "switchboard_agent_seats": "Capacity (chats at once) of agents, by status.",
    "switchboard_recorder_lag_events": "Contact events appended but not yet recorded.",
    "switchboard_recorder_dead_letters": "Contact events the recorder gave up on.",
    "switchboard_state_up": "1 if the last scrape could read the helpdesk state from Redis.",
}


class StateCollector(Collector):
    """Gauges read when scraped (``read``: Redis, off the event loop), never stored; none in a
    process that did not ``read_state_with`` a reader."""

    def __init__(self) -> None:
        self.read: Callable[[], HelpdeskState] | None = None

    def collect(self) -> Iterable[Metric]:
        if self.read is None:
            return []
        gauges = {name: GaugeMetricFamily(name, text, labels=self._labels(name))
                  for name, text in STATE_GAUGES.items()}
        try:
            state = self.read()
        except Exception as exc:  # noqa: BLE001  # Redis down: the scrape still answers
            log.error("metrics.state_unavailable", error=type(exc).__name__)
            if type(exc).__module__.startswith("redis"):
                redis_error("metrics")
            gauges["switchboard_state_up"].add_metric([], 0)
            return list(gauges.values())
        for skill, row in sorted(state.queue.items()):
            gauges["switchboard_queue_length"].add_metric([skill], row["waiting"])
            gauges["switchboard_queue_longest_wait_seconds"].add_metric([skill],
                                                                        row["longest_wait"])
        gauges["switchboard_queue_max_wait_seconds"].add_metric([], state.max_wait_seconds)
        for status in AGENT_STATUSES:
            gauges["switchboard_agents"].add_metric([status], state.agents.get(status, 0))
            gauges["switchboard_agent_chats"].add_metric([status], state.chats.get(status, 0))
            gauges["switchboard_agent_seats"].add_metric([status], state.seats.get(status, 0))
        gauges["switchboard_recorder_lag_events"].add_metric([], state.recorder_lag)
        gauges["switchboard_recorder_dead_letters"].add_metric([], state.dead_letters)
        gauges["switchboard_state_up"].add_metric([], 1)
        return list(gauges.values())

    @staticmethod
    def _labels(name: str) -> list[str]:
        if name.startswith("switchboard_queue_") and name != "switchboard_queue_max_wait_seconds":
            return ["skill"]
        if name.startswith("switchboard_agent"):
            return ["status"]
        return []


STATE = StateCollector()
REGISTRY.register(STATE)


def read_state_with(read: Callable[[], HelpdeskState]) -> None:
    """This process reports the helpdesk's state (the console process): ``read`` it when
    scraped."""
    STATE.read = read


def exposed_names() -> set[str]:
    """Every sample name a Switchboard process can expose (for the dashboard and the rules)."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
    return set(STATE_GAUGES) | {metric._name + suffix for metric in RECORDED
                                for suffix in suffixes[metric._type]}
