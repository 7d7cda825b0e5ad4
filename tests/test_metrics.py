"""Prometheus metrics: ``/metrics`` on every process of the running stack, and the
multiprocess mode that makes one scrape see every Sanic worker of a process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from switchboard import metrics
from switchboard.settings import PROJECT_ROOT

Samples = dict[tuple[str, frozenset], float]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(value for (sample, have), value in samples.items()
               if sample == name and wanted <= have)


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


def test_every_process_serves_metrics_and_counts_a_message(assistant, sender):
    settings = assistant.settings
    before = scrape(settings.rasa_port), scrape(settings.action_port)

    assistant.say(sender, "hi")
    assistant.say(sender, "show me my previous contacts with you")  # a custom action

    # Two Sanic workers answer the Rasa port: each scrape sums every worker's files.
    rasa, actions, console = (scrape(settings.rasa_port), scrape(settings.action_port),
                              scrape(settings.console_port))
    answered = dict(channel="rest", outcome="answered")
    assert (total(rasa, "switchboard_messages_total", **answered)
            >= total(before[0], "switchboard_messages_total", **answered) + 2)
    assert (total(rasa, "switchboard_reply_latency_seconds_count", **answered)
            >= total(before[0], "switchboard_reply_latency_seconds_count", **answered) + 2)
    assert (total(rasa, "switchboard_nlu_messages_total", channel="rest")
            >= total(before[0], "switchboard_nlu_messages_total", channel="rest") + 2)
    assert (total(actions, "switchboard_actions_total", action="action_contact_history")
            >= total(before[1], "switchboard_actions_total", action="action_contact_history") + 1)
    assert total(actions, "switchboard_action_duration_seconds_count") >= 1

    # The console process reads the queue, the agents and the recorder when scraped.
    assert total(console, "switchboard_state_up") == 1
    for skill in ("billing", "technical", "complaints", "general"):
        assert ("switchboard_queue_length", frozenset({("skill", skill)})) in console
        assert ("switchboard_queue_longest_wait_seconds",
                frozenset({("skill", skill)})) in console
    for status in metrics.AGENT_STATUSES:
        assert ("switchboard_agents", frozenset({("status", status)})) in console
    assert {"switchboard_recorder_lag_events", "switchboard_recorder_dead_letters",
            "switchboard_queue_max_wait_seconds"} <= names(console)
    assert total(console, "switchboard_queue_max_wait_seconds") == (
        settings.handoff_max_wait_minutes * 60)
    # The recorder counts what it wrote (the two turns above among them); the queue clock
    # counts its sweeps, once a second on the one replica holding the lease (here, the one).
    assistant.wait_recorded()
    recorder = scrape(settings.recorder_port)
    assert total(recorder, "switchboard_recorder_events_total", outcome="recorded") >= 4
    clock = scrape(settings.queue_clock_port)
    time.sleep(2.5)
    swept = dict(name="switchboard_queue_clock_ticks_total", role="sweeper")
    assert (total(scrape(settings.queue_clock_port), **swept) >= total(clock, **swept) + 1)
    # Every name any process shows is one switchboard/metrics.py defines (or a standard one).
    shown = {n for n in names(rasa) | names(actions) | names(console) | names(recorder)
             | names(clock) if n.startswith("switchboard")}
    assert shown <= metrics.exposed_names()


def test_metrics_need_no_token_but_the_action_webhook_still_does(assistant):
    """``/metrics`` is open like ``/health`` (internal ports); the action server's open paths
    are only those two."""
    port = assistant.settings.action_port
    scrape(port)
    request = urllib.request.Request(f"http://127.0.0.1:{port}/webhook", data=b"{}",
                                     method="POST")
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("the action webhook answered without Rasa's token")
    except urllib.error.HTTPError as exc:
        assert exc.code == 401


MULTIPROCESS = textwrap.dedent("""
    import multiprocessing, sys
    from pathlib import Path
    from switchboard import metrics

    data_dir = Path(sys.argv[1])
    stale = metrics.metrics_dir(data_dir, "rasa", 1234)
    stale.mkdir(parents=True, exist_ok=True)
    (stale / "counter_999.db").write_bytes(b"left by an earlier run")
    metrics.prepare(data_dir, "rasa", 1234)
    assert not (stale / "counter_999.db").exists()

    def worker(n):
        for _ in range(n):
            metrics.MESSAGES.labels("rest", "answered").inc()
        metrics.provider_error("telegram", 403)

    fork = multiprocessing.get_context("fork")
    children = [fork.Process(target=worker, args=(n,)) for n in (2, 3)]
    for child in children:
        child.start()
    for child in children:
        child.join()
    (data_dir / "scrape.txt").write_bytes(metrics.render())
""")


def test_one_scrape_sums_every_worker_of_the_process(tmp_path: Path):
    """As Sanic forks its workers after ``prepare``: a scrape (here the parent) reports the
    sum of the forked workers' counts, and ``prepare`` empties what an earlier run left."""
    subprocess.run([sys.executable, "-c", MULTIPROCESS, str(tmp_path)], cwd=PROJECT_ROOT,
                   capture_output=True, timeout=120, check=True)
    out = (tmp_path / "scrape.txt").read_text()
    samples = {(s.name, frozenset(s.labels.items())): s.value
               for family in text_string_to_metric_families(out) for s in family.samples}
    assert total(samples, "switchboard_messages_total", channel="rest", outcome="answered") == 5
    assert total(samples, "switchboard_provider_send_errors_total", channel="telegram",
                 code="403") == 2
    assert (tmp_path / "metrics" / "rasa-1234").stat().st_mode & 0o077 == 0


def test_prepare_refuses_after_metrics_were_recorded(tmp_path: Path):
    """A value recorded before ``prepare`` would live in memory and never reach a scrape."""
    script = ("import sys; from pathlib import Path; from switchboard import metrics\n"
              "metrics.redis_error('early')\n"
              "try:\n    metrics.prepare(Path(sys.argv[1]), 'x', 1)\n"
              "except RuntimeError:\n    (Path(sys.argv[1]) / 'refused').touch()\n")
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=PROJECT_ROOT,
                   capture_output=True, timeout=60, check=True)
    assert (tmp_path / "refused").exists()


def test_state_collector_answers_while_redis_is_down():
    """A scrape of the console with Redis down still answers: state_up 0, an error counted."""
    import redis

    collector = metrics.StateCollector()

    def down() -> metrics.HelpdeskState:
        raise redis.ConnectionError("down")

    collector.read = down
    before = metrics.REDIS_ERRORS.labels("metrics")._value.get()
    families = {family.name: family for family in collector.collect()}
    assert [s.value for s in families["switchboard_state_up"].samples] == [0]
    assert metrics.REDIS_ERRORS.labels("metrics")._value.get() == before + 1


def test_nlu_results_and_gateway_outcomes_are_labelled():
    before = metrics.NLU_MESSAGES.labels("sms", "nlu_fallback")._value.get()
    metrics.nlu_result({"event": "user", "input_channel": "sms",
                        "parse_data": {"intent": {"name": "nlu_fallback"}}})
    metrics.nlu_result({"event": "bot", "text": "hello"})  # not a customer message
    metrics.nlu_result({"event": "user", "input_channel": "sms", "parse_data": {}})
    assert metrics.NLU_MESSAGES.labels("sms", "nlu_fallback")._value.get() == before + 1


def test_a_delivery_that_raises_is_an_error_outcome_and_a_redis_error():
    import asyncio
    from types import SimpleNamespace

    import redis

    @metrics.timed_delivery
    async def deliver(inbound):
        raise redis.ConnectionError("down")

    errors = metrics.REDIS_ERRORS.labels("gateway")._value.get()
    failed = metrics.MESSAGES.labels("telegram", "error")._value.get()
    try:
        asyncio.run(deliver(SimpleNamespace(channel="telegram")))
        raise AssertionError("the error was swallowed")
    except redis.ConnectionError:
        pass
    assert metrics.MESSAGES.labels("telegram", "error")._value.get() == failed + 1
    assert metrics.REDIS_ERRORS.labels("gateway")._value.get() == errors + 1
