"""Session fixtures: one test model (trained only when its inputs changed) and one running stack.

The stack is the real one `make run` starts (embedded redis-server, action server, Rasa with
Redis tracker and lock stores), on free ports and a temporary data directory.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import delete

from contacts.models import (
    Channel,
    ChannelIdentity,
    Contact,
    ContactOperation,
    ContactTouch,
    Customer,
)
from handoff.models import Agent
from processes.launcher import Stack, embedded_redis
from processes.ports import free_port
from switchboard import migrate
from switchboard.db import Database
from switchboard.redis_client import redis_client
from switchboard.settings import PROJECT_ROOT, Settings
from switchboard.training import ensure_model, fast_config
from tests.fake_twilio import FakeTwilio
from tests.fakes import FAKE_BOT_TOKEN, FakeTelegram
from tests.helpers import fresh_msisdn, http, post_json
from tests.postgres import PostgresUnavailable, TemporaryPostgres

API_TOKEN = "test-api-token"
REST_TOKEN = "test-rest-channel-token"  # what a trusted integration presents to the REST channel
TWILIO_AUTH_TOKEN = "test-twilio-auth-token"  # the tests sign webhooks like Twilio does
TWILIO_ACCOUNT_SID = "AC" + "5ca1ab1e" * 4  # 34 characters, as Twilio's
TWILIO_FROM = "+447700900999"  # the SMS number
TWILIO_WHATSAPP_FROM = "whatsapp:+447700900998"  # the WhatsApp sender
# The default: a test's turns seconds apart are one contact however slow the machine. The test
# of the timeout writes an earlier conversation with old timestamps instead of waiting.
CONTACT_TIMEOUT_MINUTES = 30


@pytest.fixture(scope="session")
def test_model() -> Path:
    models = PROJECT_ROOT / "models"
    return ensure_model(fast_config(models / "test-config.yml"), models)


@dataclass
class RunningAssistant:
    settings: Settings
    log_dir: Path
    stack: Stack

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.rasa_port}"

    def say(self, sender: str, text: str) -> list[dict]:
        """Send one message over the REST channel as a trusted integration and return the bot's
        messages. ``sender`` is the conversation id, ``rest:<id>``; the integration names it
        without the namespace, which the channel adds."""
        status, answer = http("POST", f"{self.base_url}/webhooks/rest/webhook",
                              {"sender": sender.removeprefix("rest:"), "message": text},
                              token=REST_TOKEN)
        assert status == 200, (status, answer)
        return answer

    def texts(self, sender: str, text: str) -> list[str]:
        return [m.get("text", "") for m in self.say(sender, text)]

    def parse(self, text: str) -> dict:
        return post_json(f"{self.base_url}/model/parse", {"text": text}, token=API_TOKEN)

    def tracker(self, sender: str) -> dict:
        url = f"{self.base_url}/conversations/{sender}/tracker?token={API_TOKEN}"
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read())

    def redis(self):
        return redis_client(self.settings)

    @property
    def contacts_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.console_port}/api/contacts"

    def wait_recorded(self, timeout: float = 30.0) -> None:
        """Block until the contact recorder has written every published event."""
        deadline = time.monotonic() + timeout
        health = f"http://127.0.0.1:{self.settings.console_port}/health"
        while time.monotonic() < deadline:
            status, body = http("GET", health)
            if status == 200 and body["recorder_lag"] == 0:
                return
            time.sleep(0.1)
        raise AssertionError(f"the contact recorder did not catch up: {body}")

    def contacts(self, sender: str) -> list[dict]:
        """The conversation's contacts, oldest first, each with touches and operations."""
        self.wait_recorded()
        status, page = http("GET", f"{self.contacts_url}?sender={sender}", token=API_TOKEN)
        assert status == 200, page
        details = [http("GET", f"{self.contacts_url}/{c['reference']}", token=API_TOKEN)[1]
                   for c in page["items"]]
        return list(reversed(details))


TELEGRAM_SECRET = "test-telegram-webhook-secret"
ALWAYS_OPEN = "Mon-Sun 00:00-24:00"  # handoff tests run at any hour; out-of-hours sets its own
COMPLAINTS_TARGETS = "complaints=150/300"  # one skill's own targets; the rest keep 60/120


@pytest.fixture(scope="session")
def fake_telegram() -> Iterator[FakeTelegram]:
    server = FakeTelegram()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_twilio() -> Iterator[FakeTwilio]:
    """Twilio's Messages API for the stack: SMS and WhatsApp replies and one-time codes."""
    server = FakeTwilio(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def assistant(
    test_model: Path, tmp_path_factory: pytest.TempPathFactory, fake_telegram: FakeTelegram,
    fake_twilio: FakeTwilio,
) -> Iterator[RunningAssistant]:
    data_dir = tmp_path_factory.mktemp("switchboard-data")
    rasa_port = free_port()
    env = {
        **os.environ,
        "SWITCHBOARD_DATA_DIR": str(data_dir),
        "SWITCHBOARD_REDIS_PORT": str(free_port()),
        "RASA_PORT": str(rasa_port),
        "ACTION_SERVER_PORT": str(free_port()),
        "RASA_API_TOKEN": API_TOKEN,
        "SWITCHBOARD_API_TOKEN": API_TOKEN,
        "REST_CHANNEL_TOKEN": REST_TOKEN,
        "CONSOLE_PORT": str(free_port()),
        "RECORDER_PORT": str(free_port()),
        "QUEUE_CLOCK_PORT": str(free_port()),
        "CONTACT_TIMEOUT_MINUTES": str(CONTACT_TIMEOUT_MINUTES),
        "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
        "SMS_GATEWAY": "twilio",
        "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID,
        "TWILIO_FROM": TWILIO_FROM,
        "TWILIO_WHATSAPP_FROM": TWILIO_WHATSAPP_FROM,
        "TWILIO_API_URL": fake_twilio.url,
        # What Twilio signs: the public URL, not the address the tests connect to.
        "SWITCHBOARD_PUBLIC_URL": f"http://localhost:{rasa_port}",
        "TELEGRAM_BOT_TOKEN": FAKE_BOT_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_URL": fake_telegram.url,
        "HANDOFF_OPENING_HOURS": ALWAYS_OPEN,
        "HANDOFF_SKILL_TARGETS": COMPLAINTS_TARGETS,
    }
    env.pop("DATABASE_URL", None)  # SQLite in the temporary data directory
    env.pop("REDIS_URL", None)  # always the project's own embedded redis-server
    settings = Settings.from_env(env)
    log_dir = data_dir / "logs"
    with Stack(settings, test_model, log_dir=log_dir) as stack:
        yield RunningAssistant(settings, log_dir, stack)


@pytest.fixture
def sender() -> str:
    """A fresh REST conversation id per test (as Rasa and the contact record know it)."""
    return f"rest:test-{uuid.uuid4().hex[:10]}"


# --- Databases: every contacts test runs on SQLite and on PostgreSQL ---

@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    if os.environ.get("TEST_POSTGRES_URL"):
        yield os.environ["TEST_POSTGRES_URL"]
        return
    try:
        server = TemporaryPostgres()
        server.start()
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            raise  # CI installs PostgreSQL: its absence is a failure, not a skip
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def migrated_db(request, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A database brought to the newest schema by the migrations, once per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'contacts.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    db = Database(url)
    migrate.upgrade(db)
    yield db
    db.dispose()


DATA_TABLES = (ContactOperation, ContactTouch, Contact, ChannelIdentity, Customer, Agent)


@pytest.fixture
def db(migrated_db: Database) -> Database:
    """The migrated database with no contact data (configuration rows stay)."""
    with migrated_db.transaction() as session:
        for model in DATA_TABLES:
            session.execute(delete(model))
        assert session.get(Channel, "rest") is not None
    return migrated_db


@pytest.fixture(scope="session")
def redis_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A redis-server of its own (not the assistant's), for tests that consume streams."""
    data_dir = tmp_path_factory.mktemp("redis-only")
    settings = Settings.from_env({"SWITCHBOARD_DATA_DIR": str(data_dir),
                                  "SWITCHBOARD_REDIS_PORT": str(free_port())})
    server = embedded_redis(settings, data_dir)
    server.start()
    server.wait_ready()
    yield settings
    server.stop()


@pytest.fixture
def agents_online(assistant) -> list[str]:
    """The demo agents, online now (as if their consoles were open): handoffs queue."""
    from handoff import presence
    from handoff.agents import DEMO_AGENTS

    for agent_id, _, _, skills, capacity, _ in DEMO_AGENTS:
        presence.set_status(assistant.redis(), agent_id, "online", skills, capacity)
    return [agent[0] for agent in DEMO_AGENTS]


@pytest.fixture
def console(assistant, agents_online) -> str:
    """The agent console's base URL, with the demo agents online."""
    return f"http://127.0.0.1:{assistant.settings.console_port}/console"


# --- A subscriber of the operator's back end, for conversations that verify ---

PASSWORD = "482913"  # the service password of every test subscriber
PUK = "61728394"


@pytest.fixture
def stack_db(assistant) -> Database:
    """The running stack's database (demo accounts, contact records)."""
    return Database(assistant.settings.database_url)


@pytest.fixture
def subscriber(stack_db):
    """A fresh subscriber of its own per test (lockouts and changes stay with it)."""
    from accounts.demo import DemoSubscriber, add_subscriber

    msisdn = fresh_msisdn()
    sub = DemoSubscriber(msisdn, "Grace Mwangi", "go_30", PASSWORD, PUK, 1800, 12_300, False,
                         (("music", "Kestrel Music", 499), ("ringback", "Ringback Tones", 150)))
    with stack_db.transaction() as session:
        add_subscriber(session, sub)
    return sub


# --- Real Chromium (Debian's, which make test installs), for the browser tests ---

CHROMIUM = "/usr/lib/chromium/chromium"


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox"])
        yield chromium
        chromium.close()
