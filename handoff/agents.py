"""Creating agents and checking their logins (the console's accounts)."""

from __future__ import annotations

import re

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from contacts.service import utcnow
from handoff import logins
from handoff.models import Agent
from handoff.queue import SKILLS
from switchboard.db import Database
from switchboard.passwords import hash_password, verify_known_password

MIN_PASSWORD = 10
AGENT_ID = re.compile(r"[a-z][a-z0-9._-]{1,63}")


class AgentError(ValueError):
    pass


def add_agent(session: Session, agent_id: str, *, display_name: str, password: str,
              skills: list[str], capacity: int = 3, supervisor: bool = False) -> Agent:
    """A new agent; refuses weak passwords, unknown skills and taken names."""
    if not AGENT_ID.fullmatch(agent_id):
        raise AgentError("agent ids are 2-64 lowercase letters, digits, '.', '_' or '-'")
    _check_password(password)
    unknown = [s for s in skills if s not in SKILLS]
    if unknown or not skills:
        raise AgentError(f"skills must be some of {', '.join(SKILLS)}; got {skills}")
    if not 1 <= capacity <= 20:
        raise AgentError("capacity is 1 to 20 chats at once")
    if session.get(Agent, agent_id) is not None:
        raise AgentError(f"there is already an agent {agent_id!r}")
    agent = Agent(id=agent_id, display_name=display_name or agent_id,
                  password_hash=hash_password(password), skills=",".join(skills),
                  capacity=capacity, supervisor=supervisor, active=True, created_at=utcnow())
    session.add(agent)
    session.flush()
    return agent


def change_password(db: Database, client: redis.Redis, agent_id: str, password: str) -> int:
    """Set the agent's password, then end all their console sessions (whoever knew the old
    password may hold one). Returns how many sessions ended; raises AgentError for an unknown
    agent or a weak password."""
    _check_password(password)
    with db.transaction() as session:
        agent = session.get(Agent, agent_id)
        if agent is None:
            raise AgentError(f"there is no agent {agent_id!r}")
        agent.password_hash = hash_password(password)
    # After the commit: a login with the old password just before it is ended too.
    return logins.revoke_all(client, agent_id)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AgentError(f"passwords need at least {MIN_PASSWORD} characters")


def check_login(session: Session, agent_id: str, password: str) -> Agent | None:
    """The agent if the password is right (the same slow check for unknown names)."""
    agent = session.get(Agent, agent_id)
    usable = agent is not None and agent.active
    right = verify_known_password(password, agent.password_hash if usable else None)
    return agent if right else None


def list_agents(session: Session) -> list[Agent]:
    return list(session.scalars(select(Agent).order_by(Agent.id)))


# Demo agents `make run` creates (listed in the README), so a new user can try the console.
DEMO_AGENTS = [
    ("ana", "Ana (billing)", "kestrel-ana-demo", ["billing", "general"], 3, False),
    ("tom", "Tom (technical)", "kestrel-tom-demo", ["technical", "general"], 3, False),
    ("sam", "Sam (supervisor)", "kestrel-sam-demo", list(SKILLS), 5, True),
]


def seed_demo_agents(session: Session) -> int:
    added = 0
    for agent_id, name, password, skills, capacity, supervisor in DEMO_AGENTS:
        if session.get(Agent, agent_id) is None:
            add_agent(session, agent_id, display_name=name, password=password, skills=skills,
                      capacity=capacity, supervisor=supervisor)
            added += 1
    return added
