"""Agents of the console (in the project's database, beside the contact records)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Integer, String

from switchboard.db import Base


class Agent(Base):
    __tablename__ = "agent"
    id = Column(String(64), primary_key=True)  # the login name
    display_name = Column(String(100), nullable=False)
    password_hash = Column(String(200), nullable=False)  # scrypt, switchboard.passwords
    skills = Column(String(200), nullable=False)  # comma-separated, from handoff.queue.SKILLS
    capacity = Column(Integer, nullable=False, default=3)  # chats at once
    supervisor = Column(Boolean, nullable=False, default=False)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime, nullable=False)

    @property
    def first_name(self) -> str:
        """How a customer sees an agent: their first name only."""
        return (self.display_name or self.id).split()[0]

    @property
    def skill_list(self) -> list[str]:
        return [s for s in self.skills.split(",") if s]
