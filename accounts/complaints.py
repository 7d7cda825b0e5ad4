"""Complaint records: created by the complaint form, looked up by reference.

References read ``CMP-2026-000123`` (year and a sequence number); the SLA due date depends on
the category. A customer only ever sees their own complaints.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from accounts.backend import ComplaintInfo
from accounts.models import Complaint
from contacts.service import utcnow
from switchboard.db import Database

# How long each category may take before it is overdue (the operator's service levels).
SLA = {
    "network": timedelta(days=3),
    "billing": timedelta(days=5),
    "customer_service": timedelta(days=2),
    "device": timedelta(days=7),
    "roaming": timedelta(days=3),
    "data": timedelta(days=3),
}
REPEAT_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class NewComplaint:
    msisdn: str
    category: str
    description: str
    location: str | None = None
    since: str | None = None
    bill_period: str | None = None
    disputed_pence: int | None = None
    contact_reference: str | None = None


def file_complaint(db: Database, complaint: NewComplaint) -> ComplaintInfo:
    """Create the complaint with its reference and due date."""
    if complaint.category not in SLA:
        raise ValueError(f"unknown complaint category {complaint.category!r}")
    now = utcnow()
    with db.transaction() as session:  # writers are serialised, so the sequence is safe
        prefix = f"CMP-{now:%Y}-"
        last = session.scalar(select(func.max(Complaint.reference))
                              .where(Complaint.reference.like(f"{prefix}%")))
        number = int(last.rsplit("-", 1)[1]) + 1 if last else 1
        row = Complaint(
            reference=f"{prefix}{number:06d}", msisdn=complaint.msisdn,
            category=complaint.category, description=complaint.description,
            location=complaint.location, since=complaint.since,
            bill_period=complaint.bill_period, disputed_pence=complaint.disputed_pence,
            status="open", created_at=now, due_at=now + SLA[complaint.category],
            contact_reference=complaint.contact_reference,
        )
        session.add(row)
        return _info(row)


def complaint_of(db: Database, reference: str, msisdn: str) -> ComplaintInfo | None:
    """The complaint with this reference if it belongs to ``msisdn``; None otherwise (an
    unknown reference and someone else's look the same to the asker)."""
    with db.reading() as session:
        row = session.scalars(select(Complaint).where(
            Complaint.reference == reference.upper(), Complaint.msisdn == msisdn)).first()
        return _info(row) if row else None


def open_complaints(db: Database, msisdn: str) -> list[ComplaintInfo]:
    """This number's complaints not yet resolved, oldest first."""
    with db.reading() as session:
        rows = session.scalars(select(Complaint).where(
            Complaint.msisdn == msisdn, Complaint.status != "resolved")
            .order_by(Complaint.created_at, Complaint.id)).all()
        return [_info(row) for row in rows]


def recent_complaints(db: Database, msisdn: str, now: datetime | None = None) -> int:
    """How many complaints this number filed in the last 30 days."""
    since = (now or utcnow()) - REPEAT_WINDOW
    with db.reading() as session:
        return session.scalar(select(func.count()).select_from(Complaint).where(
            Complaint.msisdn == msisdn, Complaint.created_at >= since)) or 0


def _info(row: Complaint) -> ComplaintInfo:
    return ComplaintInfo(row.reference, row.msisdn, row.category, row.status, row.created_at,
                         row.due_at)
