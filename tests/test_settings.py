"""The one settings loader: defaults, overrides and what Rasa's endpoints.yml receives."""

from __future__ import annotations

import pytest

from switchboard.settings import Settings


def test_defaults_run_everything_locally():
    settings = Settings.from_env({})
    assert settings.redis_url is None
    assert settings.effective_redis_url == "redis://127.0.0.1:6379/0"
    assert (settings.rasa_port, settings.action_port, settings.rasa_workers) == (5005, 5055, 2)


def test_rasa_endpoints_get_the_action_server_and_tracker_expiry_but_no_redis_secret():
    """Rasa's stores take Redis from the client factory, so its password is not spread into
    endpoint variables any more."""
    settings = Settings.from_env({"REDIS_URL": "redis://:s3cret@cache.internal:6380/3",
                                  "ACTION_SERVER_PORT": "7000"})
    assert settings.rasa_endpoint_env() == {
        "ACTION_ENDPOINT_URL": "http://127.0.0.1:7000/webhook",
        "TRACKER_TTL_SECONDS": "259200",  # TRACKER_TTL_DAYS' default, 3 days
    }


def test_sentinels_are_host_port_pairs_and_replace_the_embedded_redis():
    settings = Settings.from_env({"REDIS_SENTINELS": "10.0.0.1:26379, s2.internal:26380",
                                  "REDIS_SENTINEL_SERVICE": "kestrel"})
    assert settings.redis_sentinels == (("10.0.0.1", 26379), ("s2.internal", 26380))
    assert not settings.embedded_redis and Settings.from_env({}).embedded_redis
    child = Settings.from_env(settings.to_env())  # the launcher's children see the same
    assert (child.redis_sentinels, child.redis_sentinel_service) == (
        settings.redis_sentinels, "kestrel")
    for wrong in ("10.0.0.1", "10.0.0.1:port", ":26379"):
        with pytest.raises(ValueError, match="REDIS_SENTINELS"):
            Settings.from_env({"REDIS_SENTINELS": wrong})


def test_the_action_server_url_can_point_at_a_cluster_service():
    settings = Settings.from_env({"ACTION_SERVER_URL": "http://actions.internal:5055/webhook"})
    assert settings.rasa_endpoint_env()["ACTION_ENDPOINT_URL"] == (
        "http://actions.internal:5055/webhook")
    assert settings.action_server_host == "127.0.0.1"  # the action server binds loopback


def test_a_malformed_number_names_the_variable():
    with pytest.raises(ValueError, match="RASA_PORT"):
        Settings.from_env({"RASA_PORT": "fifty"})


def test_skills_may_have_their_own_service_targets():
    settings = Settings.from_env({"HANDOFF_SKILL_TARGETS": "complaints=120/300; technical=90/180",
                                  "HANDOFF_FIRST_RESPONSE_SECONDS": "45"})
    assert (settings.service_target("complaints").first,
            settings.service_target("complaints").next) == (120, 300)
    assert (settings.service_target("technical").first,
            settings.service_target("technical").next) == (90, 180)
    assert (settings.service_target("billing").first,
            settings.service_target("billing").next) == (45, 120)  # the defaults
    assert settings.service_target(None).first == 45
    again = Settings.from_env(settings.to_env())  # child processes read the same
    assert again.skill_targets == settings.skill_targets


@pytest.mark.parametrize("given, says", [
    ("complaint=120/300", "no skill 'complaint'"),
    ("complaints=120", "not skill=first/next"),
    ("complaints=0/300", "positive"),
    ("billing=60/120,billing=30/60", "given twice"),
    # Found by the newcomer attack: a float() error without the variable, a sign read as a
    # format error, a capital read as a format error, and infinity accepted.
    ("billing=1.2.3/4", "'1.2.3' is not a positive number"),
    ("billing=-1/5", "'-1' is not a positive number"),
    ("Billing=1/2", "no skill 'Billing'"),
    ("billing=60/" + "9" * 400, "is not a positive number"),
])
def test_a_wrong_skill_target_names_the_variable_and_the_fault(given, says):
    with pytest.raises(ValueError, match="HANDOFF_SKILL_TARGETS") as raised:
        Settings.from_env({"HANDOFF_SKILL_TARGETS": given})
    assert says in str(raised.value)


def test_skill_targets_pass_to_child_processes_as_given():
    """The launcher hands its settings to each child as environment variables: a target the
    parent accepted (0.00001 s, 1e17 s) must be one the child accepts too (1e-05, 1e+17)."""
    settings = Settings.from_env({"HANDOFF_SKILL_TARGETS": "billing=0.00001/100000000000000000"})
    assert Settings.from_env(settings.to_env()).skill_targets == settings.skill_targets


@pytest.mark.parametrize("variable, value", [
    ("HANDOFF_SKILL_TARGETS", "billing=1.2.3/4"), ("RASA_PORT", "fifty"),
])
def test_a_wrong_setting_stops_the_command_in_one_line(variable, value):
    """`make run` and every `switchboard` command read the settings first: a wrong one is one
    line naming the variable, exit code 2, never a traceback (newcomer attack)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, variable: value}
    done = subprocess.run([sys.executable, "-m", "processes", "keys", "--rest"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and variable in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
