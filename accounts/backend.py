"""The operator back end as the assistant sees it: one interface, plain values in and out.

The bundled implementation is ``accounts.sql.SqlAccountBackend``; an operator plugs in its own
with ``ACCOUNTS_BACKEND=package.module:ClassName`` (a class taking the settings). Every method
takes the subscriber's msisdn (``447700900123``); the caller has verified who is asking.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from switchboard.settings import Settings


class AccountError(Exception):
    """A request the back end refuses; the message is safe to show the customer."""


class UnknownAccount(AccountError):
    pass


@dataclass(frozen=True)
class Money:
    pence: int

    def __str__(self) -> str:
        return f"£{self.pence / 100:.2f}"


@dataclass(frozen=True)
class PlanInfo:
    code: str
    name: str
    monthly_fee: Money
    data_mb: int | None  # None: unlimited
    description: str
    prepaid: bool
    eu_roaming_included: bool = False  # Roam Like Home in the EU zone at no extra cost


@dataclass(frozen=True)
class DataPackInfo:
    code: str
    name: str
    price: Money
    data_mb: int | None  # None: unlimited
    validity_days: int


@dataclass(frozen=True)
class AccountSummary:
    msisdn: str
    holder_name: str
    plan: PlanInfo
    balance: Money  # prepay: credit left; pay monthly: amount due now
    line_status: str
    roaming_enabled: bool


@dataclass(frozen=True)
class DataUsage:
    used_mb: int
    allowance_mb: int | None  # None: unlimited
    period_ends: date

    @property
    def left_mb(self) -> int | None:
        return None if self.allowance_mb is None else max(self.allowance_mb - self.used_mb, 0)


@dataclass(frozen=True)
class BillInfo:
    period: str
    amount: Money
    issued_on: date
    due_on: date
    paid: bool
    breakdown: str


@dataclass(frozen=True)
class VasInfo:
    code: str
    name: str
    price: Money


@dataclass(frozen=True)
class ComplaintInfo:
    reference: str
    msisdn: str
    category: str
    status: str
    created_at: datetime
    due_at: datetime


class AccountBackend(Protocol):
    def exists(self, msisdn: str) -> bool: ...
    def check_password(self, msisdn: str, password: str) -> bool: ...
    def summary(self, msisdn: str) -> AccountSummary: ...
    def data_usage(self, msisdn: str) -> DataUsage: ...
    def latest_bill(self, msisdn: str) -> BillInfo | None: ...
    def available_plans(self) -> list[PlanInfo]: ...
    def data_packs(self) -> list[DataPackInfo]: ...
    def change_plan(self, msisdn: str, plan_code: str) -> PlanInfo: ...
    def add_data_pack(self, msisdn: str, pack_code: str) -> DataPackInfo: ...
    def activate_roaming(self, msisdn: str) -> None: ...
    def suspend_line(self, msisdn: str, reason: str) -> None: ...
    def subscriptions(self, msisdn: str) -> list[VasInfo]: ...
    def cancel_subscription(self, msisdn: str, code: str) -> VasInfo: ...
    def puk(self, msisdn: str) -> str: ...


def load_backend(settings: Settings) -> AccountBackend:
    """The back end ``ACCOUNTS_BACKEND`` names (``module:Class``), built from the settings."""
    module_name, _, class_name = settings.accounts_backend.partition(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    return backend_class(settings)
