"""Contact records at operator scale: write throughput and the two-month history query.

Seeds (from a generator, nothing checked in) 1,000,000 contacts with 10 touches each across
100,000 customers, then measures on the same database:
- touches/s written by 20 concurrent writers through the recorder's real path (one customer
  message per unit of work: find the open contact, check the idempotency key, add the touch),
  and by one writer (the recorder is a single consumer in production);
- side by side, stock Rasa's way of keeping conversation events in SQL: its ``SQLEventBroker``
  (one row per event), with the same 20 writers, on a database of the same kind;
- p50/p95/p99 of the two-month history query for a customer with 50 contacts.

    make bench-contacts                                   # SQLite, then PostgreSQL
    .venv/bin/python bench/contacts.py --contacts 100000  # a quicker, smaller run
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.concurrency import run_together  # noqa: E402
from contacts import service  # noqa: E402
from contacts.models import (  # noqa: E402
    ChannelIdentity,
    Contact,
    ContactTouch,
    Customer,
)
from contacts.recorder import ContactRecorder  # noqa: E402
from switchboard import migrate  # noqa: E402
from switchboard.db import Database  # noqa: E402
from tests.postgres import TemporaryPostgres  # noqa: E402

CHANNELS = ["sms", "telegram", "webchat", "whatsapp", "rest"]
INTENTS = ["greet", "faq/roaming", "check_balance", "faq/plans_overview", "file_complaint",
           "check_data_usage", "goodbye", "faq/bill_explained"]
BATCH = 20_000
HISTORY_MSISDN = "447000000000"  # customer 0: the one with 50 contacts in the last two months


def msisdn(customer_index: int) -> str:
    return f"44700{customer_index:07d}"


def seed(db: Database, contacts: int, touches_per_contact: int, customers: int) -> float:
    """Bulk-load the data set through SQLAlchemy Core; returns seconds taken."""
    started = time.perf_counter()
    now = datetime.utcnow()
    rng = random.Random(7)
    with db.engine.begin() as connection:
        _insert_batches(connection, Customer, (
            {"id": i + 1, "msisdn": msisdn(i), "name": f"Customer {i}", "plan": "Flex 10",
             "status": "active", "created_at": now} for i in range(customers)))
        _insert_batches(connection, ChannelIdentity, (
            {"id": i * len(CHANNELS) + c + 1, "channel": channel, "external_id": f"{channel}-{i}",
             "customer_id": i + 1, "linked_at": now, "created_at": now}
            for i in range(customers) for c, channel in enumerate(CHANNELS)))
        _insert_batches(connection, Contact, _contacts(contacts, customers, now, rng))
        _insert_batches(connection, ContactTouch,
                        _touches(contacts, touches_per_contact, now, rng))
        if connection.dialect.name == "postgresql":  # explicit ids leave the sequences behind
            for model in (Customer, ChannelIdentity, Contact, ContactTouch):
                table = model.__tablename__
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))")
    return time.perf_counter() - started


def _contacts(count: int, customers: int, now: datetime, rng: random.Random) -> Iterator[dict]:
    for contact_id in range(1, count + 1):
        if contact_id <= 50:  # customer 0: 50 contacts spread over the last two months
            customer, age = 0, timedelta(days=contact_id, minutes=rng.randrange(600))
        else:
            customer = 1 + rng.randrange(customers - 1)
            age = timedelta(minutes=rng.randrange(180 * 24 * 60))  # the last six months
        channel_index = rng.randrange(len(CHANNELS))
        started = now - age
        yield {
            "id": contact_id, "reference": f"CT{started:%y%m%d}-{contact_id:08X}",
            "customer_id": customer + 1, "channel": CHANNELS[channel_index],
            "identity_id": customer * len(CHANNELS) + channel_index + 1,
            "sender_id": f"{CHANNELS[channel_index]}-{customer}", "started_at": started,
            "last_touch_at": started + timedelta(minutes=5),
            "ended_at": started + timedelta(minutes=5), "status": "completed",
            "handled_by": "bot", "interaction_mode": "inbound",
            "disposition": "customer_goodbye", "expects_secret": False,
        }


def _touches(contacts: int, per_contact: int, now: datetime, rng: random.Random) -> Iterator[dict]:
    touch_id = 0
    for contact_id in range(1, contacts + 1):
        for n in range(per_contact):
            touch_id += 1
            inbound = n % 2 == 0
            yield {
                "id": touch_id, "contact_id": contact_id, "key": None,
                "direction": "in" if inbound else "out",
                "author": "customer" if inbound else "bot",
                "text": "what roaming options do you have" if inbound else "Roam Like Home ...",
                "intent": rng.choice(INTENTS) if inbound else None,
                "confidence": 0.93 if inbound else None, "at": now,
            }


def _insert_batches(connection, model, rows: Iterator[dict]) -> None:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            connection.execute(insert(model.__table__), batch)
            batch = []
    if batch:
        connection.execute(insert(model.__table__), batch)


def concurrent(writers: int, per_writer: int, work: Callable[[int, int], None]) -> float:
    """Run ``work(writer, n)`` from ``writers`` threads; returns operations per second."""
    errors: list[BaseException] = []

    def run(writer: int) -> None:
        try:
            for n in range(per_writer):
                work(writer, n)
        except BaseException as exc:
            errors.append(exc)

    elapsed = run_together([functools.partial(run, w) for w in range(writers)])
    if errors:
        raise RuntimeError(f"{len(errors)} writers failed") from errors[0]
    return writers * per_writer / elapsed


def recorder_writes(db: Database, writers: int, per_writer: int, batch: int, label: str) -> float:
    """Touches/s through ``ContactRecorder.apply_batch``: ``batch`` events per transaction, as
    the recorder applies what it reads from the stream (one when traffic trickles in)."""
    recorder = ContactRecorder(db, timedelta(minutes=30))
    base = time.time()

    def event(writer: int, n: int) -> dict:
        # Five customers per writer, so contacts are looked up and extended, as in real traffic.
        return {"event": "user", "sender_id": f"bench-{label}-{writer}-{n % 5}",
                "text": "what roaming options do you have", "timestamp": base + n * 0.001,
                "message_id": f"{label}-{writer}-{n}", "input_channel": "telegram",
                "parse_data": {"intent": {"name": "faq", "confidence": 0.9}, "entities": []}}

    def work(writer: int, n: int) -> None:
        first = n * batch
        recorder.apply_batch([(f"{first + i}-{writer}", event(writer, first + i))
                              for i in range(batch)])

    return concurrent(writers, per_writer // batch, work) * batch


def stock_broker_writes(url: str, writers: int, per_writer: int) -> float:
    """Stock Rasa's SQLEventBroker publishing the same customer messages as events."""
    from rasa.core.brokers.sql import SQLEventBroker
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    dialect = "sqlite" if parsed.get_backend_name() == "sqlite" else "postgresql"
    broker = SQLEventBroker(dialect=dialect, host=parsed.host, port=parsed.port,
                            db=parsed.database, username=parsed.username,
                            password=parsed.password)
    base = time.time()
    failures = []

    def work(writer: int, n: int) -> None:
        try:
            publish(writer, n)
        except Exception as exc:  # stock has no retry: count what it loses
            failures.append(type(exc).__name__)

    def publish(writer: int, n: int) -> None:
        broker.publish({"event": "user", "sender_id": f"stock-{writer}", "text": "roaming?",
                        "timestamp": base + n * 0.001, "message_id": f"s-{writer}-{n}",
                        "input_channel": "telegram",
                        "parse_data": {"intent": {"name": "faq", "confidence": 0.9}}})

    rate = concurrent(writers, per_writer, work)
    if failures:
        print(f"stock SQLEventBroker: {len(failures)} events failed ({failures[0]})")
    return rate


def history_latencies(db: Database, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        with db.reading() as session:
            history = service.recent_contacts(session, HISTORY_MSISDN, limit=50)
            assert len(history.contacts) == 50, len(history.contacts)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1]


def bench(name: str, db: Database, stock_url: str, args: argparse.Namespace) -> None:
    migrate.upgrade(db)
    print(f"\n== {name}: seeding {args.contacts:,} contacts x {args.touches} touches across "
          f"{args.customers:,} customers ...", flush=True)
    seconds = seed(db, args.contacts, args.touches, args.customers)
    rows = args.contacts * (args.touches + 1)
    print(f"seeded in {seconds:.0f} s ({rows / seconds:,.0f} rows/s)", flush=True)
    with db.engine.begin() as connection:  # statistics, as a database in service has them
        connection.exec_driver_sql("ANALYZE")
    history_latencies(db, 20)  # warm the caches as a running server would be
    samples = history_latencies(db, args.history_runs)
    w, n = args.writers, args.per_writer
    figures = [
        (f"touches/s, {w} writers, batches of {args.batch}",
         recorder_writes(db, w, n, args.batch, "batched")),
        (f"touches/s, {w} writers, one per transaction", recorder_writes(db, w, n, 1, "many")),
        ("touches/s, 1 writer, one per transaction", recorder_writes(db, 1, n, 1, "one")),
        (f"events/s, stock Rasa SQLEventBroker, {w} writers", stock_broker_writes(stock_url, w, n)),
    ]
    for label, value in figures:
        print(f"{label:<50} {value:>10,.0f}")
    for q in (50, 95, 99):
        print(f"{f'history (2 months, 50 contacts) p{q} ms':<50} {percentile(samples, q):>10.2f}")
    print(flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--touches", type=int, default=10, help="touches per contact")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--per-writer", type=int, default=500, help="messages per writer")
    parser.add_argument("--batch", type=int, default=50, help="events per recorder transaction")
    parser.add_argument("--history-runs", type=int, default=500)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-contacts-") as workdir:
        if args.database in ("sqlite", "both"):
            db = Database(f"sqlite:///{workdir}/contacts.db")
            bench("SQLite (WAL)", db, f"sqlite:///{workdir}/stock-events.db", args)
            db.dispose()
        if args.database in ("postgresql", "both"):
            server = TemporaryPostgres(durable=True)
            server.start()
            try:
                db = Database(server.url)
                bench("PostgreSQL", db, server.url, args)
                db.dispose()
            finally:
                server.stop()


if __name__ == "__main__":
    main()
