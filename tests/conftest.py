"""Session fixtures: one test model (trained only when its inputs changed) and one running stack.

The stack is the real one `make run` starts (embedded redis-server, action server, Rasa with
Redis tracker and lock stores), on free ports and a temporary data directory.
"""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from switchboard.launcher import Stack, free_port
from switchboard.redis_client import redis_client
from switchboard.settings import PROJECT_ROOT, Settings
from switchboard.training import ensure_model, fast_config
from tests.helpers import post_json

API_TOKEN = "test-api-token"


@pytest.fixture(scope="session")
def test_model() -> Path:
    models = PROJECT_ROOT / "models"
    return ensure_model(fast_config(models / "test-config.yml"), models)


@dataclass
class RunningAssistant:
    settings: Settings
    log_dir: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.rasa_port}"

    def say(self, sender: str, text: str) -> list[dict]:
        """Send one message over the REST channel and return the bot's messages."""
        return post_json(f"{self.base_url}/webhooks/rest/webhook",
                         {"sender": sender, "message": text})

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


@pytest.fixture(scope="session")
def assistant(
    test_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningAssistant]:
    data_dir = tmp_path_factory.mktemp("switchboard-data")
    env = {
        **os.environ,
        "SWITCHBOARD_DATA_DIR": str(data_dir),
        "SWITCHBOARD_REDIS_PORT": str(free_port()),
        "RASA_PORT": str(free_port()),
        "ACTION_SERVER_PORT": str(free_port()),
        "RASA_API_TOKEN": API_TOKEN,
    }
    env.pop("REDIS_URL", None)  # always the project's own embedded redis-server
    settings = Settings.from_env(env)
    log_dir = data_dir / "logs"
    with Stack(settings, test_model, log_dir=log_dir):
        yield RunningAssistant(settings, log_dir)


@pytest.fixture
def sender() -> str:
    """A fresh conversation id per test."""
    return f"test-{uuid.uuid4().hex[:10]}"
