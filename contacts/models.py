"""The unified contact record: customers, their channel identities, contacts, touches, operations.

Times are naive UTC datetimes (the same on SQLite and PostgreSQL). Only ``contacts.service``
writes these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from switchboard.db import Base

# Contact statuses and who handled a contact: fixed by the product, not configuration.
CONTACT_STATUSES = ("open", "with_agent", "completed", "abandoned")
OPEN_STATUSES = ("open", "with_agent")
HANDLERS = ("bot", "agent", "both")
DIRECTIONS = ("in", "out")
AUTHORS = ("customer", "bot", "agent", "system")
OPERATION_RESULTS = ("success", "failure", "refused", "pending")
REACHABILITY = ("opted_out", "undeliverable")  # why a channel identity cannot be written to


# --- Contact configuration, as data (seeded by a migration, queryable) ---

class Channel(Base):
    __tablename__ = "contact_channel"
    code = Column(String(32), primary_key=True)
    name = Column(String(100), nullable=False)
    description = Column(Text, nullable=False, default="")


class InteractionMode(Base):
    __tablename__ = "interaction_mode"
    code = Column(String(32), primary_key=True)
    name = Column(String(100), nullable=False)
    description = Column(Text, nullable=False, default="")


class OperationCategory(Base):
    __tablename__ = "operation_category"
    code = Column(String(48), primary_key=True)
    name = Column(String(100), nullable=False)
    description = Column(Text, nullable=False, default="")


class DispositionCode(Base):
    __tablename__ = "disposition_code"
    code = Column(String(48), primary_key=True)
    name = Column(String(100), nullable=False)
    description = Column(Text, nullable=False, default="")


# --- Who the customers are ---

class Customer(Base):
    """An operator subscriber."""

    __tablename__ = "customer"
    id = Column(Integer, primary_key=True)
    msisdn = Column(String(20), nullable=False, unique=True)  # E.164 without the "+"
    name = Column(String(200), nullable=False, default="")
    plan = Column(String(64))
    status = Column(String(16), nullable=False, default="active")  # active, suspended, closed
    created_at = Column(DateTime, nullable=False)

    identities = relationship("ChannelIdentity", back_populates="customer")


class ChannelIdentity(Base):
    """Someone on a channel (a Telegram user id, an SMS sender number, a web chat session).

    Anonymous until linked to a customer by a verified identity: after that, every contact on
    this identity belongs to the customer's one history.
    """

    __tablename__ = "channel_identity"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_channel_identity"),)
    id = Column(Integer, primary_key=True)
    channel = Column(String(32), ForeignKey("contact_channel.code"), nullable=False)
    external_id = Column(String(128), nullable=False)
    customer_id = Column(Integer, ForeignKey("customer.id"), index=True)
    linked_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False)
    # Whether we may send to it (None: yes): "opted_out" (a carrier STOP keyword, or the provider
    # says the recipient unsubscribed) until they opt back in, or "undeliverable" (the provider
    # refuses the address: not a valid or not a mobile number).
    reachability = Column(String(16))
    reachability_reason = Column(String(64))  # e.g. "STOP", "twilio 21610"
    reachability_since = Column(DateTime)

    customer = relationship("Customer", back_populates="identities")


# --- Contacts ---

class Contact(Base):
    """One episode of a customer talking to us on one channel, first message to completion."""

    __tablename__ = "contact"
    __table_args__ = (
        Index("ix_contact_customer_started", "customer_id", "started_at"),
        Index("ix_contact_identity_started", "identity_id", "started_at"),
        Index("ix_contact_sender_started", "sender_id", "started_at"),
        Index("ix_contact_started", "started_at"),
        Index("ix_contact_status_touch", "status", "last_touch_at"),
    )
    id = Column(Integer, primary_key=True)
    reference = Column(String(24), nullable=False, unique=True)  # what people read and quote
    customer_id = Column(Integer, ForeignKey("customer.id"))
    channel = Column(String(32), ForeignKey("contact_channel.code"), nullable=False)
    identity_id = Column(Integer, ForeignKey("channel_identity.id"), nullable=False)
    sender_id = Column(String(128), nullable=False)  # the Rasa conversation id
    started_at = Column(DateTime, nullable=False)
    last_touch_at = Column(DateTime, nullable=False)
    ended_at = Column(DateTime)
    status = Column(String(16), nullable=False, default="open")
    handled_by = Column(String(8), nullable=False, default="bot")
    agent_id = Column(String(64), index=True)
    auth_method = Column(String(32))  # e.g. otp_sms, service_password, channel_verified
    auth_result = Column(String(16))  # verified, failed, locked
    interaction_mode = Column(String(32), ForeignKey("interaction_mode.code"), nullable=False)
    disposition = Column(String(48), ForeignKey("disposition_code.code"))
    csat = Column(SmallInteger)  # 1..5 when the customer gave one
    # The bot just asked for a secret (a code or password): the next customer message is masked.
    expects_secret = Column(Boolean, nullable=False, default=False)
    # Idempotency key of the request that began it: a retried "begin" returns this contact.
    begin_key = Column(String(160), unique=True)

    customer = relationship("Customer")
    identity = relationship("ChannelIdentity")
    touches = relationship("ContactTouch", back_populates="contact",
                           order_by="ContactTouch.id", lazy="raise")
    operations = relationship("ContactOperation", back_populates="contact",
                              order_by="ContactOperation.id", lazy="raise")

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class ContactTouch(Base):
    """One message in or out of a contact, its text with secrets masked."""

    __tablename__ = "contact_touch"
    __table_args__ = (Index("ix_contact_touch_contact", "contact_id", "id"),)
    id = Column(Integer, primary_key=True)
    contact_id = Column(Integer, ForeignKey("contact.id"), nullable=False)
    # Idempotency key: a redelivered message or event carries the same key and is not stored twice.
    key = Column(String(160), unique=True)
    direction = Column(String(3), nullable=False)
    author = Column(String(8), nullable=False)
    text = Column(Text, nullable=False, default="")
    intent = Column(String(100))
    confidence = Column(Float)
    at = Column(DateTime, nullable=False)

    contact = relationship("Contact", back_populates="touches")


class ContactOperation(Base):
    """A business operation performed or attempted inside a contact."""

    __tablename__ = "contact_operation"
    __table_args__ = (Index("ix_contact_operation_contact", "contact_id", "id"),)
    id = Column(Integer, primary_key=True)
    contact_id = Column(Integer, ForeignKey("contact.id"), nullable=False)
    key = Column(String(160), unique=True)
    category = Column(String(48), ForeignKey("operation_category.code"), nullable=False)
    result = Column(String(16), nullable=False)
    reference = Column(String(64))  # e.g. a complaint number
    detail = Column(Text, nullable=False, default="")
    at = Column(DateTime, nullable=False)

    contact = relationship("Contact", back_populates="operations")


# --- Erasures: that one happened, never what was erased ---

class Erasure(Base):
    """One customer's data erased on request (``switchboard customers erase``): when, a random
    reference to quote, and how much went. Nothing that identifies the customer."""

    __tablename__ = "erasure"
    id = Column(Integer, primary_key=True)
    reference = Column(String(24), nullable=False, unique=True)  # ER261125-7K3QXP
    at = Column(DateTime, nullable=False)
    contacts = Column(Integer, nullable=False)  # contacts anonymised
    touches = Column(Integer, nullable=False)  # messages whose text was removed
    identities = Column(Integer, nullable=False)  # channel identities removed
    customers = Column(Integer, nullable=False)  # customer records removed (0 or 1)
    complaints = Column(Integer, nullable=False)  # complaints whose personal text was removed
    redis_records = Column(Integer, nullable=False)  # keys, members and stream entries removed
