"""Tables of the bundled, SQL-backed operator back end (in the same database as the contacts).

Money is in pence, data in MB. A real operator replaces the back end (``ACCOUNTS_BACKEND``) and
these tables stay empty.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, String, Text

from switchboard.db import Base

UNLIMITED_MB = -1  # a plan's data allowance when it has no limit


class Plan(Base):
    __tablename__ = "plan"
    code = Column(String(32), primary_key=True)
    name = Column(String(64), nullable=False, unique=True)
    monthly_fee_pence = Column(Integer, nullable=False)
    data_mb = Column(Integer, nullable=False)  # UNLIMITED_MB for unlimited
    description = Column(Text, nullable=False, default="")
    prepaid = Column(Boolean, nullable=False, default=False)
    eu_roaming_included = Column(Boolean, nullable=False, default=False)


class DataPack(Base):
    __tablename__ = "data_pack"
    code = Column(String(32), primary_key=True)
    name = Column(String(64), nullable=False, unique=True)
    price_pence = Column(Integer, nullable=False)
    data_mb = Column(Integer, nullable=False)  # UNLIMITED_MB for unlimited (weekend)
    validity_days = Column(Integer, nullable=False)


class Account(Base):
    """A subscriber's line."""

    __tablename__ = "account"
    msisdn = Column(String(20), primary_key=True)  # 447700900123
    holder_name = Column(String(200), nullable=False)
    plan_code = Column(String(32), ForeignKey("plan.code"), nullable=False)
    balance_pence = Column(Integer, nullable=False, default=0)  # credit (prepay) or amount due
    data_used_mb = Column(Integer, nullable=False, default=0)
    period_ends = Column(Date, nullable=False)  # the allowance renews the day after
    roaming_enabled = Column(Boolean, nullable=False, default=False)
    line_status = Column(String(16), nullable=False, default="active")  # active, suspended
    puk = Column(String(8), nullable=False)
    password_hash = Column(String(200), nullable=False)  # scrypt, see accounts.passwords


class AccountDataPack(Base):
    __tablename__ = "account_data_pack"
    __table_args__ = (Index("ix_account_data_pack_msisdn", "msisdn", "expires_at"),)
    id = Column(Integer, primary_key=True)
    msisdn = Column(String(20), ForeignKey("account.msisdn"), nullable=False)
    pack_code = Column(String(32), ForeignKey("data_pack.code"), nullable=False)
    added_at = Column(DateTime, nullable=False)
    expires_at = Column(DateTime, nullable=False)


class Bill(Base):
    __tablename__ = "bill"
    __table_args__ = (Index("ix_bill_msisdn_period", "msisdn", "period"),)
    id = Column(Integer, primary_key=True)
    msisdn = Column(String(20), ForeignKey("account.msisdn"), nullable=False)
    period = Column(String(7), nullable=False)  # 2026-10
    amount_pence = Column(Integer, nullable=False)
    issued_on = Column(Date, nullable=False)
    due_on = Column(Date, nullable=False)
    paid = Column(Boolean, nullable=False, default=False)
    breakdown = Column(Text, nullable=False, default="")  # "Plan Go 30 £18.00; 5GB Boost £8.00"


class VasSubscription(Base):
    """A value-added service the line pays for (ringback tones, content clubs, ...)."""

    __tablename__ = "vas_subscription"
    __table_args__ = (Index("ix_vas_subscription_msisdn", "msisdn"),)
    id = Column(Integer, primary_key=True)
    msisdn = Column(String(20), ForeignKey("account.msisdn"), nullable=False)
    code = Column(String(32), nullable=False)
    name = Column(String(100), nullable=False)
    price_pence = Column(Integer, nullable=False)  # per month
    active = Column(Boolean, nullable=False, default=True)
    cancelled_at = Column(DateTime)


class Complaint(Base):
    __tablename__ = "complaint"
    __table_args__ = (Index("ix_complaint_msisdn_created", "msisdn", "created_at"),)
    id = Column(Integer, primary_key=True)
    reference = Column(String(20), nullable=False, unique=True)  # CMP-2026-000123
    msisdn = Column(String(20), nullable=False)
    category = Column(String(32), nullable=False)
    description = Column(Text, nullable=False)
    location = Column(String(200))  # network complaints
    since = Column(String(100))  # network complaints: since when, in the customer's words
    bill_period = Column(String(7))  # billing disputes
    disputed_pence = Column(Integer)  # billing disputes
    status = Column(String(16), nullable=False, default="open")  # open, in_progress, resolved
    created_at = Column(DateTime, nullable=False)
    due_at = Column(DateTime, nullable=False)
    contact_reference = Column(String(24))
