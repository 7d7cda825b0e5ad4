"""Console agents on SQLite and PostgreSQL: creation rules, slow-hash logins, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from handoff import agents
from handoff.models import Agent
from switchboard.settings import PROJECT_ROOT


def test_an_agent_logs_in_with_the_right_password_only(db):
    with db.transaction() as session:
        agents.add_agent(session, "ana", display_name="Ana", password="correct horse battery",
                         skills=["billing", "general"], capacity=4)
    with db.reading() as session:
        stored = session.get(Agent, "ana")
        assert stored.password_hash.startswith("scrypt$") and "correct" not in stored.password_hash
        assert agents.check_login(session, "ana", "correct horse battery").skill_list == [
            "billing", "general"]
        assert agents.check_login(session, "ana", "wrong password!") is None
        assert agents.check_login(session, "nobody", "correct horse battery") is None


@pytest.mark.parametrize("agent_id, password, skills, capacity, message", [
    ("Ana!", "long enough pw", ["general"], 3, "agent ids"),
    ("ana", "short", ["general"], 3, "at least"),
    ("ana", "long enough pw", ["cooking"], 3, "skills"),
    ("ana", "long enough pw", ["general"], 99, "capacity"),
])
def test_bad_agents_are_refused_with_the_reason(db, agent_id, password, skills, capacity,
                                                message):
    with db.transaction() as session, pytest.raises(agents.AgentError, match=message):
        agents.add_agent(session, agent_id, display_name="", password=password, skills=skills,
                         capacity=capacity)


def test_demo_agents_are_seeded_once(db):
    with db.transaction() as session:
        assert agents.seed_demo_agents(session) == 3
        assert agents.seed_demo_agents(session) == 0
    with db.reading() as session:
        assert agents.check_login(session, "sam", "kestrel-sam-demo").supervisor


def test_the_cli_adds_and_lists_agents(db, tmp_path):
    env = {**os.environ, "DATABASE_URL": db.url, "SWITCHBOARD_DATA_DIR": str(tmp_path)}

    def cli(*args, stdin=""):
        return subprocess.run([sys.executable, "-m", "processes", "agents", *args], env=env,
                              input=stdin, capture_output=True, text=True, cwd=PROJECT_ROOT,
                              timeout=120)

    created = cli("add", "lee", "--name", "Lee", "--skills", "technical,complaints",
                  "--password-stdin", stdin="a long enough password\n")
    assert created.returncode == 0, created.stderr
    assert "lee" in cli("list").stdout and "technical,complaints" in cli("list").stdout
    again = cli("add", "lee", "--password-stdin", stdin="a long enough password\n")
    assert again.returncode == 2 and again.stderr.startswith("error: ")
