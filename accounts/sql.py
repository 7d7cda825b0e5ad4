"""The bundled operator back end: accounts in the project's own database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.backend import (
    AccountError,
    AccountSummary,
    BillInfo,
    DataPackInfo,
    DataUsage,
    Money,
    PlanInfo,
    UnknownAccount,
    VasInfo,
)
from accounts.models import (
    UNLIMITED_MB,
    Account,
    AccountDataPack,
    Bill,
    DataPack,
    Plan,
    VasSubscription,
)
from contacts.service import utcnow
from switchboard.db import Database, database
from switchboard.passwords import verify_known_password
from switchboard.settings import Settings


class SqlAccountBackend:
    """``AccountBackend`` over the ``account``, ``plan``, ``bill``, ... tables."""

    def __init__(self, settings: Settings) -> None:
        self.db: Database = database(settings)

    def exists(self, msisdn: str) -> bool:
        with self.db.reading() as session:
            return session.get(Account, msisdn) is not None

    def check_password(self, msisdn: str, password: str) -> bool:
        with self.db.reading() as session:
            account = session.get(Account, msisdn)
            stored = account.password_hash if account else None
        return verify_known_password(password, stored)

    def summary(self, msisdn: str) -> AccountSummary:
        with self.db.reading() as session:
            account = _account(session, msisdn)
            return AccountSummary(
                msisdn=account.msisdn, holder_name=account.holder_name,
                plan=_plan_info(session.get(Plan, account.plan_code)),
                balance=Money(account.balance_pence), line_status=account.line_status,
                roaming_enabled=account.roaming_enabled,
            )

    def data_usage(self, msisdn: str) -> DataUsage:
        with self.db.reading() as session:
            account = _account(session, msisdn)
            plan = session.get(Plan, account.plan_code)
            packs = session.execute(
                select(DataPack.data_mb).join(AccountDataPack,
                                              AccountDataPack.pack_code == DataPack.code)
                .where(AccountDataPack.msisdn == msisdn, AccountDataPack.expires_at > utcnow())
            ).scalars().all()
            sizes = [plan.data_mb, *packs]
            allowance = None if UNLIMITED_MB in sizes else sum(sizes)
            return DataUsage(account.data_used_mb, allowance, account.period_ends)

    def latest_bill(self, msisdn: str) -> BillInfo | None:
        with self.db.reading() as session:
            _account(session, msisdn)
            bill = session.scalars(select(Bill).where(Bill.msisdn == msisdn)
                                   .order_by(Bill.period.desc()).limit(1)).first()
            if bill is None:
                return None
            return BillInfo(bill.period, Money(bill.amount_pence), bill.issued_on, bill.due_on,
                            bill.paid, bill.breakdown)

    def available_plans(self) -> list[PlanInfo]:
        with self.db.reading() as session:
            plans = session.scalars(select(Plan).order_by(Plan.monthly_fee_pence)).all()
            return [_plan_info(p) for p in plans]

    def data_packs(self) -> list[DataPackInfo]:
        with self.db.reading() as session:
            packs = session.scalars(select(DataPack).order_by(DataPack.price_pence)).all()
            return [_pack_info(p) for p in packs]

    def change_plan(self, msisdn: str, plan_code: str) -> PlanInfo:
        with self.db.transaction() as session:
            account = _active_account(session, msisdn)
            plan = session.get(Plan, plan_code)
            if plan is None:
                raise AccountError(f"There is no plan called {plan_code}.")
            if plan.code == account.plan_code:
                raise AccountError(f"You're already on {plan.name}.")
            account.plan_code = plan.code
            return _plan_info(plan)

    def add_data_pack(self, msisdn: str, pack_code: str) -> DataPackInfo:
        with self.db.transaction() as session:
            account = _active_account(session, msisdn)
            pack = session.get(DataPack, pack_code)
            if pack is None:
                raise AccountError(f"There is no data pack called {pack_code}.")
            _charge(account, session.get(Plan, account.plan_code), pack)
            now = utcnow()
            session.add(AccountDataPack(msisdn=account.msisdn, pack_code=pack.code, added_at=now,
                                        expires_at=now + timedelta(days=pack.validity_days)))
            return _pack_info(pack)

    def activate_roaming(self, msisdn: str) -> None:
        with self.db.transaction() as session:
            _active_account(session, msisdn).roaming_enabled = True

    def suspend_line(self, msisdn: str, reason: str) -> None:
        with self.db.transaction() as session:
            _account(session, msisdn).line_status = "suspended"

    def subscriptions(self, msisdn: str) -> list[VasInfo]:
        with self.db.reading() as session:
            _account(session, msisdn)
            rows = session.scalars(select(VasSubscription).where(
                VasSubscription.msisdn == msisdn, VasSubscription.active.is_(True))
                .order_by(VasSubscription.name)).all()
            return [VasInfo(r.code, r.name, Money(r.price_pence)) for r in rows]

    def cancel_subscription(self, msisdn: str, code: str) -> VasInfo:
        with self.db.transaction() as session:
            row = session.scalars(select(VasSubscription).where(
                VasSubscription.msisdn == msisdn, VasSubscription.code == code,
                VasSubscription.active.is_(True))).first()
            if row is None:
                raise AccountError("That subscription isn't active on your line.")
            row.active, row.cancelled_at = False, utcnow()
            return VasInfo(row.code, row.name, Money(row.price_pence))

    def puk(self, msisdn: str) -> str:
        with self.db.reading() as session:
            return _account(session, msisdn).puk




def _account(session: Session, msisdn: str) -> Account:
    account = session.get(Account, msisdn)
    if account is None:
        raise UnknownAccount("I can't find that account.")
    return account


def _active_account(session: Session, msisdn: str) -> Account:
    account = _account(session, msisdn)
    if account.line_status != "active":
        raise AccountError("Your line is suspended, so it can't be changed in chat; an agent "
                           "can help you reactivate it.")
    return account


def _charge(account: Account, plan: Plan, pack: DataPack) -> None:
    """Pay monthly: onto the next bill; pay as you go: from the credit, if there is enough."""
    if not plan.prepaid:
        account.balance_pence += pack.price_pence
        return
    if account.balance_pence < pack.price_pence:
        raise AccountError(f"You have {Money(account.balance_pence)} of credit, not enough for "
                           f"{pack.name} ({Money(pack.price_pence)}). Please top up first.")
    account.balance_pence -= pack.price_pence


def _plan_info(plan: Plan) -> PlanInfo:
    return PlanInfo(plan.code, plan.name, Money(plan.monthly_fee_pence),
                    None if plan.data_mb == UNLIMITED_MB else plan.data_mb, plan.description,
                    plan.prepaid, bool(plan.eu_roaming_included))


def _pack_info(pack: DataPack) -> DataPackInfo:
    return DataPackInfo(pack.code, pack.name, Money(pack.price_pence),
                        None if pack.data_mb == UNLIMITED_MB else pack.data_mb,
                        pack.validity_days)
