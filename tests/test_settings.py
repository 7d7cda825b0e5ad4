"""The one settings loader: defaults, overrides and what Rasa's endpoints.yml receives."""

from __future__ import annotations

import pytest

from switchboard.settings import Settings


def test_defaults_run_everything_locally():
    settings = Settings.from_env({})
    assert settings.redis_url is None
    assert settings.effective_redis_url == "redis://127.0.0.1:6379/0"
    assert (settings.rasa_port, settings.action_port, settings.rasa_workers) == (5005, 5055, 2)


def test_rasa_endpoints_get_host_port_db_and_password_from_redis_url():
    settings = Settings.from_env({"REDIS_URL": "redis://:s3cret@cache.internal:6380/3",
                                  "ACTION_SERVER_PORT": "7000"})
    assert settings.rasa_endpoint_env() == {
        "ACTION_ENDPOINT_URL": "http://127.0.0.1:7000/webhook",
        "REDIS_HOST": "cache.internal",
        "REDIS_PORT": "6380",
        "REDIS_DB": "3",
        "REDIS_PASSWORD": "s3cret",
        "TRACKER_TTL_SECONDS": "259200",  # TRACKER_TTL_DAYS' default, 3 days
    }


def test_the_action_server_url_can_point_at_a_cluster_service():
    settings = Settings.from_env({"ACTION_SERVER_URL": "http://actions.internal:5055/webhook"})
    assert settings.rasa_endpoint_env()["ACTION_ENDPOINT_URL"] == (
        "http://actions.internal:5055/webhook")
    assert settings.action_server_host == "127.0.0.1"  # the action server binds loopback


def test_a_malformed_number_names_the_variable():
    with pytest.raises(ValueError, match="RASA_PORT"):
        Settings.from_env({"RASA_PORT": "fifty"})
