"""Demo subscribers of Kestrel Mobile (docs/operator-facts.md), so every flow can be tried.

``make run`` seeds them (``SWITCHBOARD_DEMO_DATA``, on by default); seeding only adds what is
missing, so it is safe on every start and never undoes what a demo user changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from accounts.models import UNLIMITED_MB, Account, Bill, DataPack, Plan, VasSubscription
from switchboard.db import Database
from switchboard.passwords import hash_password

PLANS = [
    Plan(code="go_10", name="Go 10", monthly_fee_pence=1200, data_mb=10_240,
         description="10 GB data, unlimited UK calls and texts"),
    Plan(code="go_30", name="Go 30", monthly_fee_pence=1800, data_mb=30_720,
         description="30 GB data, unlimited UK calls and texts, EU roaming included",
         eu_roaming_included=True),
    Plan(code="unlimited", name="Unlimited", monthly_fee_pence=2500, data_mb=UNLIMITED_MB,
         description="Unlimited 5G data, EU roaming included", eu_roaming_included=True),
    Plan(code="unlimited_max", name="Unlimited Max", monthly_fee_pence=3200,
         data_mb=UNLIMITED_MB, eu_roaming_included=True,
         description="Unlimited data, 30 GB EU roaming, 100 international minutes"),
    Plan(code="family_share", name="Family Share", monthly_fee_pence=4500, data_mb=102_400,
         description="100 GB shared across up to 4 SIMs", eu_roaming_included=True),
    Plan(code="prepay_flex", name="Prepay Flex", monthly_fee_pence=1000, data_mb=5_120,
         description="Pay as you go: £10 top-ups, 5 GB per top-up", prepaid=True),
]
DATA_PACKS = [
    DataPack(code="boost_1gb", name="1GB Boost", price_pence=300, data_mb=1_024,
             validity_days=30),
    DataPack(code="boost_5gb", name="5GB Boost", price_pence=800, data_mb=5_120,
             validity_days=30),
    DataPack(code="boost_20gb", name="20GB Boost", price_pence=1500, data_mb=20_480,
             validity_days=30),
    DataPack(code="weekend_unlimited", name="Weekend Unlimited", price_pence=500,
             data_mb=UNLIMITED_MB, validity_days=3),
]


@dataclass(frozen=True)
class DemoSubscriber:
    msisdn: str
    name: str
    plan: str
    password: str  # the 6-digit service password (listed in the README for demo users)
    puk: str
    balance_pence: int
    data_used_mb: int
    roaming: bool
    vas: tuple[tuple[str, str, int], ...] = ()


DEMO_SUBSCRIBERS = [
    DemoSubscriber("447700900001", "Alice Hart", "go_30", "246810", "40917362", 1800, 12_300,
                   False, (("music", "Kestrel Music", 499), ("ringback", "Ringback Tones", 150))),
    DemoSubscriber("447700900002", "Ben Okafor", "prepay_flex", "135790", "88203417", 640,
                   3_170, False),
    DemoSubscriber("447700900003", "Chloe Singh", "unlimited_max", "112358", "57190284", 3200,
                   48_900, True, (("cloud", "Cloud Backup 50GB", 200),)),
    DemoSubscriber("447700900004", "Dev Patel", "go_10", "314159", "23958104", 2650, 9_870,
                   False, (("games", "Game Club", 350),)),
]


def seed_demo(db: Database, today: date | None = None) -> int:
    """Add the plans, packs and demo subscribers that are missing; returns accounts added."""
    today = today or date.today()
    added = 0
    with db.transaction() as session:
        for item in [*PLANS, *DATA_PACKS]:
            if session.get(type(item), item.code) is None:
                session.add(_copy(item))
        session.flush()
        for sub in DEMO_SUBSCRIBERS:
            if session.get(Account, sub.msisdn) is None:
                add_subscriber(session, sub, today)
                added += 1
    return added


def add_subscriber(session: Session, sub: DemoSubscriber, today: date | None = None) -> None:
    """One subscriber with their bills and subscriptions (the plans must exist)."""
    today = today or date.today()
    session.add(_account(sub, today))
    session.add_all(_bills(sub, today))
    session.add_all(VasSubscription(msisdn=sub.msisdn, code=code, name=name, price_pence=price)
                    for code, name, price in sub.vas)


def _account(sub: DemoSubscriber, today: date) -> Account:
    next_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    return Account(msisdn=sub.msisdn, holder_name=sub.name, plan_code=sub.plan,
                   balance_pence=sub.balance_pence, data_used_mb=sub.data_used_mb,
                   period_ends=next_month - timedelta(days=1), roaming_enabled=sub.roaming,
                   line_status="active", puk=sub.puk, password_hash=hash_password(sub.password))


def _bills(sub: DemoSubscriber, today: date) -> list[Bill]:
    plan = next(p for p in PLANS if p.code == sub.plan)
    if plan.prepaid:
        return []
    bills = []
    issued = today.replace(day=1)
    for months_back, extra in ((0, 800), (1, 0)):  # this month's bill has a 5GB Boost on it
        for _ in range(months_back):
            issued = (issued - timedelta(days=1)).replace(day=1)
        breakdown = f"{plan.name} £{plan.monthly_fee_pence / 100:.2f}"
        if extra:
            breakdown += f"; 5GB Boost £{extra / 100:.2f}"
        bills.append(Bill(msisdn=sub.msisdn, period=f"{issued:%Y-%m}",
                          amount_pence=plan.monthly_fee_pence + extra, issued_on=issued,
                          due_on=issued.replace(day=15), paid=months_back > 0,
                          breakdown=breakdown))
    return bills


def _copy(item: Plan | DataPack) -> Plan | DataPack:
    columns = {c.name: getattr(item, c.name) for c in type(item).__table__.columns}
    return type(item)(**{k: v for k, v in columns.items() if v is not None})  # None: default
