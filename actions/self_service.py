"""Account self-service for verified customers, answered from the operator back end.

One-step requests (balance, data, bill, plan, PUK) answer at once; changes (plan, data pack,
value-added services, a lost SIM, roaming) go through a form that takes what the customer
already said, asks only for what is missing, and shows a summary to confirm, change or cancel:
nothing changes without that confirmation. Every request ends as a contact operation.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from accounts.backend import (
    AccountBackend,
    AccountError,
    AccountSummary,
    DataPackInfo,
    PlanInfo,
    VasInfo,
)
from actions import extract
from actions.base import ServiceAction
from actions.contact_records import operation_record
from actions.extract import ListeningForm, reask
from actions.flow import accept, offer_human, reset_flow
from actions.verification import display_number, verified_number
from switchboard.log import get_logger
from switchboard.services import Services
from switchboard.settings import Settings

log = get_logger(__name__)

# Requests that continue in a form of their own once the customer is verified.
FORMS = {"change_plan": "change_plan_form", "buy_data_pack": "data_pack_form",
         "unsubscribe_vas": "vas_form", "report_lost_sim": "lost_sim_form",
         "activate_roaming": "roaming_form", "file_complaint": "complaint_form",
         "report_network_issue": "complaint_form", "billing_dispute": "complaint_form",
         "complaint_status": "complaint_status_form"}
# Requests that change the line: a suspended line cannot be changed in chat.
CHANGES = {"change_plan": "plan_change", "buy_data_pack": "data_pack_purchase",
           "activate_roaming": "roaming_activation", "report_lost_sim": "sim_suspension"}
CANCEL = {"title": "Cancel", "payload": "/cancel"}
LAPSED = ("Your verification has lapsed, so I haven't done anything. Ask me again and I'll "
          "check it's you first.")


async def serve(
    services: Services, backend: AccountBackend, dispatcher: CollectingDispatcher,
    tracker: Tracker, request: str | None,
) -> list[EventType]:
    """Answer a verified customer's request, or start the form that carries it out with every
    value they already gave (the form then asks only for what is missing)."""
    from actions import complaints  # complaints use self-service's summary: import when used

    msisdn = verified_number(services.settings, tracker)
    account = await asyncio.to_thread(backend.summary, msisdn)
    said = extract.request_texts(tracker.events, request)
    if request in CHANGES and account.line_status != "active":
        offer_human(dispatcher, f"{display_number(msisdn)} is suspended at the moment, so it "
                                "can't be changed in chat; an agent can help you reactivate it.")
        return [operation_record(CHANGES[request], "refused", detail="line suspended")]
    if request == "complaint_status":
        return await complaints.status(services.db, dispatcher, tracker, said, msisdn)
    if request in FORMS:
        refused = await _nothing_to_do(backend, dispatcher, request, account)
        if refused:
            return refused
        known = await asyncio.to_thread(_known, backend, request, said, account)
        if request in complaints.PRESET_CATEGORY:
            known["complaint_category"] = complaints.PRESET_CATEGORY[request]
        return [*(SlotSet(slot, value) for slot, value in known.items()),
                FollowupAction(FORMS[request])]
    answer = ONE_STEP.get(request or "")
    if answer is None:
        dispatcher.utter_message(response="utter_how_can_i_help")
        return []
    try:
        text, category = await asyncio.to_thread(answer, backend, msisdn)
    except AccountError as exc:
        dispatcher.utter_message(text=str(exc))
        return [operation_record(ONE_STEP_CATEGORY[request], "refused", detail=str(exc))]
    if account.line_status != "active":  # said up front, before the answer
        text = f"Your line {display_number(msisdn)} is suspended at the moment. {text}"
    dispatcher.utter_message(text=text)
    return [operation_record(category, "success")]


async def _nothing_to_do(backend: AccountBackend, dispatcher: CollectingDispatcher,
                         request: str, account: AccountSummary) -> list[EventType]:
    """What the account already shows makes the flow pointless: say so instead."""
    if request == "unsubscribe_vas" and not await asyncio.to_thread(
            backend.subscriptions, account.msisdn):
        dispatcher.utter_message(text="You have no value-added subscriptions on your line, "
                                      "so there's nothing to cancel.")
        return [operation_record("vas_unsubscription", "refused", detail="none active")]
    if request == "activate_roaming" and account.roaming_enabled:
        dispatcher.utter_message(text="Roaming is already on for your line: you're ready to "
                                      "travel.")
        return [operation_record("roaming_activation", "success", detail="already on")]
    return []


def _known(backend: AccountBackend, request: str, said: list[str],
           account: AccountSummary) -> dict[str, Any]:
    """The form's values in what the customer already said for this request."""
    from actions import complaints

    if request == "change_plan":
        plans = backend.available_plans()
        value = extract.first(said, lambda t: read_plan(t, plans, account.plan))
        return {"plan_choice": value} if value else {}
    if request == "buy_data_pack":
        value = extract.first(said, lambda t: read_pack(t, backend.data_packs()))
        return {"pack_choice": value} if value else {}
    if request == "unsubscribe_vas":
        subscriptions = backend.subscriptions(account.msisdn)
        value = extract.first(said, lambda t: read_vas(t, subscriptions))
        return {"vas_choice": value} if value else {}
    if request in ("file_complaint", "report_network_issue", "billing_dispute"):
        return complaints.known(request, said)
    return {}


def read_plan(text: str, plans: list[PlanInfo], current: PlanInfo) -> str | None:
    """The code of the plan named in the text (not the one the customer is on)."""
    name = extract.option(text, [p.name for p in plans], exclude=[current.name])
    return next((p.code for p in plans if p.name == name), None)


def read_pack(text: str, packs: list[DataPackInfo]) -> str | None:
    name = extract.option(text, [p.name for p in packs])
    return next((p.code for p in packs if p.name == name), None)


def read_vas(text: str, subscriptions: list[VasInfo]) -> str | None:
    """Subscription codes, comma-separated: the one named, or all of them."""
    if subscriptions and extract.wants_all(text):
        return ",".join(s.code for s in subscriptions)
    name = extract.option(text, [s.name for s in subscriptions])
    return next((s.code for s in subscriptions if s.name == name), None)


def _balance(backend: AccountBackend, msisdn: str) -> tuple[str, str]:
    account = backend.summary(msisdn)
    if account.plan.prepaid:
        return f"You have {account.balance} of credit on {display_number(msisdn)}.", \
            "balance_query"
    bill = backend.latest_bill(msisdn)
    due = f", due on {bill.due_on:%d %B}" if bill and not bill.paid else ""
    return f"Your balance to pay is {account.balance}{due}.", "balance_query"


def _data_usage(backend: AccountBackend, msisdn: str) -> tuple[str, str]:
    usage = backend.data_usage(msisdn)
    used = _gb(usage.used_mb)
    if usage.allowance_mb is None:
        text = f"You've used {used} this period, and your data is unlimited."
    else:
        text = (f"You've used {used} of {_gb(usage.allowance_mb)}: {_gb(usage.left_mb or 0)} "
                f"left until {usage.period_ends:%d %B}.")
    return text, "data_usage_query"


def _bill(backend: AccountBackend, msisdn: str) -> tuple[str, str]:
    bill = backend.latest_bill(msisdn)
    if bill is None:
        return "You're on pay as you go, so there are no bills: top-ups pay as you go.", \
            "bill_query"
    state = "paid" if bill.paid else f"due on {bill.due_on:%d %B}"
    return (f"Your latest bill, for {bill.issued_on:%B %Y}, is {bill.amount} ({state}): "
            f"{bill.breakdown}."), "bill_query"


def _plan(backend: AccountBackend, msisdn: str) -> tuple[str, str]:
    plan = backend.summary(msisdn).plan
    return (f"You're on {plan.name} ({plan.monthly_fee}/month): {plan.description}."), \
        "plan_query"


def _puk(backend: AccountBackend, msisdn: str) -> tuple[str, str]:
    return (f"Your PUK code is {backend.puk(msisdn)}. Type it when your phone asks, then "
            "choose a new PIN. Please don't share it."), "puk_request"


ONE_STEP = {"check_balance": _balance, "check_data_usage": _data_usage, "check_bill": _bill,
            "check_plan": _plan, "get_puk": _puk}
ONE_STEP_CATEGORY = {"check_balance": "balance_query", "check_data_usage": "data_usage_query",
                     "check_bill": "bill_query", "check_plan": "plan_query",
                     "get_puk": "puk_request"}


def _gb(mb: int) -> str:
    return f"{mb / 1024:.1f} GB"


def _match(text: str, options: list[Any]) -> Any | None:
    """The option whose name or code the customer typed (spaces and case ignored), or the
    one a typo or a longer sentence names."""
    wanted = re.sub(r"[^a-z0-9]", "", (text or "").lower())
    for option in options:
        if wanted in (re.sub(r"[^a-z0-9]", "", option.name.lower()), option.code):
            return option
    name = extract.option(text, [o.name for o in options])
    return next((o for o in options if o.name == name), None)


# --- Change plan ---

class ValidateChangePlanForm(ListeningForm):
    listens_for = ("plan_choice",)

    def name(self) -> str:
        return "validate_change_plan_form"

    async def read(self, slot: str, text: str, tracker: Tracker) -> Any | None:
        msisdn = verified_number(self.services.settings, tracker)
        plans = await asyncio.to_thread(self.backend.available_plans)
        current = (await asyncio.to_thread(self.backend.summary, msisdn)).plan
        return read_plan(text, plans, current)

    async def validate_plan_choice(self, value: Any, dispatcher: CollectingDispatcher,
                                   tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        msisdn = verified_number(self.services.settings, tracker)
        plans = await asyncio.to_thread(self.backend.available_plans)
        current = (await asyncio.to_thread(self.backend.summary, msisdn)).plan
        plan = _match(str(value), [p for p in plans if p.code != current.code]) or _match(
            str(value), plans)
        if plan is None:
            names = ", ".join(p.name for p in plans if p.code != current.code)
            return reask(dispatcher, tracker, "plan_choice",
                         f"I don't know a plan called \"{value}\". Our plans are: {names}. "
                         "Say one of them, for example \"Unlimited\".")
        if plan.code == current.code:
            return reask(dispatcher, tracker, "plan_choice",
                         f"You're already on {plan.name}. Which plan would you like instead? "
                         "For example \"Unlimited Max\".")
        return accept("plan_choice", plan.code)


class ActionAskPlanChoice(ServiceAction):
    def name(self) -> str:
        return "action_ask_plan_choice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        msisdn = verified_number(self.services.settings, tracker)
        current = (await asyncio.to_thread(self.backend.summary, msisdn)).plan
        plans = [p for p in await asyncio.to_thread(self.backend.available_plans)
                 if p.code != current.code]
        lines = [f"You're on {current.name} ({current.monthly_fee}/month). You can move to:"]
        lines += [f"- {p.name}: {p.monthly_fee}/month, {p.description}" for p in plans]
        lines.append("Which one would you like?")
        dispatcher.utter_message(text="\n".join(lines),
                                 buttons=[{"title": p.name, "payload": p.name} for p in plans])
        return []


class ActionChangePlan(ServiceAction):
    def name(self) -> str:
        return "action_change_plan"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        return await _apply(self.services.settings, dispatcher, tracker, "plan_change",
                            "plan_choice", self.backend.change_plan, _plan_done)


def _plan_done(plan: PlanInfo) -> str:
    return (f"Done: you're now on {plan.name} ({plan.monthly_fee}/month). The change shows on "
            "your next bill, and I've noted it on your account.")


# --- Data packs ---

class ValidateDataPackForm(ListeningForm):
    listens_for = ("pack_choice",)

    def name(self) -> str:
        return "validate_data_pack_form"

    async def read(self, slot: str, text: str, tracker: Tracker) -> Any | None:
        return read_pack(text, await asyncio.to_thread(self.backend.data_packs))

    async def validate_pack_choice(self, value: Any, dispatcher: CollectingDispatcher,
                                   tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        packs = await asyncio.to_thread(self.backend.data_packs)
        pack = _match(str(value), packs)
        if pack is None:
            names = ", ".join(p.name for p in packs)
            return reask(dispatcher, tracker, "pack_choice",
                         f"I don't know a data pack called \"{value}\". We have: {names}. "
                         "Say one of them, for example \"5GB Boost\".")
        return accept("pack_choice", pack.code)


class ActionAskPackChoice(ServiceAction):
    def name(self) -> str:
        return "action_ask_pack_choice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        packs = await asyncio.to_thread(self.backend.data_packs)
        lines = ["Which data pack would you like?"]
        lines += [f"- {p.name}: {p.price}, {_pack_size(p)}, {p.validity_days} days"
                  for p in packs]
        dispatcher.utter_message(text="\n".join(lines),
                                 buttons=[{"title": p.name, "payload": p.name} for p in packs])
        return []


def _pack_size(pack: DataPackInfo) -> str:
    return "unlimited data" if pack.data_mb is None else _gb(pack.data_mb)


class ActionBuyDataPack(ServiceAction):
    def name(self) -> str:
        return "action_buy_data_pack"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        msisdn = verified_number(self.services.settings, tracker)
        account = await asyncio.to_thread(self.backend.summary, msisdn)

        def done(pack: DataPackInfo) -> str:
            paid = ("has been taken from your credit" if account.plan.prepaid
                    else "will be added to your next bill")
            return (f"Done: {pack.name} ({_pack_size(pack)}) is on your line now, valid for "
                    f"{pack.validity_days} days. {pack.price} {paid}.")

        return await _apply(self.services.settings, dispatcher, tracker, "data_pack_purchase",
                            "pack_choice", self.backend.add_data_pack, done)


# --- Value-added services ---

class ValidateVasForm(ListeningForm):
    listens_for = ("vas_choice",)

    def name(self) -> str:
        return "validate_vas_form"

    async def read(self, slot: str, text: str, tracker: Tracker) -> Any | None:
        msisdn = verified_number(self.services.settings, tracker)
        return read_vas(text, await asyncio.to_thread(self.backend.subscriptions, msisdn))

    async def validate_vas_choice(self, value: Any, dispatcher: CollectingDispatcher,
                                  tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        msisdn = verified_number(self.services.settings, tracker)
        subscriptions = await asyncio.to_thread(self.backend.subscriptions, msisdn)
        codes = {s.code for s in subscriptions}
        given = str(value).split(",")
        if set(given) <= codes:  # codes already (from a summary or the first message)
            return accept("vas_choice", ",".join(given))
        chosen = read_vas(str(value), subscriptions)
        if chosen is None:
            names = ", ".join(s.name for s in subscriptions)
            return reask(dispatcher, tracker, "vas_choice",
                         f"You don't have a subscription called \"{value}\". Yours are: "
                         f"{names}. Which should I cancel? For example \"{subscriptions[0].name}"
                         "\", or \"all\".")
        return accept("vas_choice", chosen)


class ActionAskVasChoice(ServiceAction):
    def name(self) -> str:
        return "action_ask_vas_choice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        msisdn = verified_number(self.services.settings, tracker)
        subscriptions = await asyncio.to_thread(self.backend.subscriptions, msisdn)
        lines = ["These value-added services are on your line:"]
        lines += [f"- {s.name}: {s.price}/month" for s in subscriptions]
        lines.append("Which would you like to cancel?")
        buttons = [{"title": s.name, "payload": s.name} for s in subscriptions]
        if len(subscriptions) > 1:
            buttons.append({"title": "All of them", "payload": "all of them"})
        dispatcher.utter_message(text="\n".join(lines), buttons=buttons)
        return []


class ActionUnsubscribeVas(ServiceAction):
    def name(self) -> str:
        return "action_unsubscribe_vas"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        def cancel_all(msisdn: str, codes: str) -> list[VasInfo]:
            return [self.backend.cancel_subscription(msisdn, code) for code in codes.split(",")]

        def done(cancelled: list[VasInfo]) -> str:
            names = ", ".join(f"{v.name} ({v.price}/month)" for v in cancelled)
            return f"Done: I've cancelled {names}. You won't be charged for them again."

        return await _apply(self.services.settings, dispatcher, tracker, "vas_unsubscription",
                            "vas_choice", cancel_all, done)


# --- Lost or stolen SIM ---

class ActionReportLostSim(ServiceAction):
    def name(self) -> str:
        return "action_report_lost_sim"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        def suspend(msisdn: str, _choice: None) -> str:
            self.backend.suspend_line(msisdn, "lost or stolen SIM")
            return msisdn

        def done(msisdn: str) -> str:
            return (f"Done: {display_number(msisdn)} is suspended, so nobody can make calls or "
                    "use data on it. Next steps: pick up a replacement SIM in any Kestrel store "
                    "with photo ID (free), or ask an agent to post one; your number moves to "
                    "the new SIM. If the phone was stolen, report it to the police too.")

        return await _apply(self.services.settings, dispatcher, tracker, "sim_suspension", None,
                            suspend, done)


# --- Roaming ---

class ActionActivateRoaming(ServiceAction):
    def name(self) -> str:
        return "action_activate_roaming"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        def activate(msisdn: str, _choice: None) -> None:
            self.backend.activate_roaming(msisdn)

        def done(_: None) -> str:
            return ("Done: roaming is now on for your line. In the EU zone your plan's terms "
                    "apply; elsewhere add a Roam Day Pass (£2.50/day).")

        return await _apply(self.services.settings, dispatcher, tracker, "roaming_activation",
                            None, activate, done)


# --- Shared by every change and complaint: the summary, then the customer's word ---

class ActionAskConfirmed(ServiceAction):
    """One message saying exactly what will be done or filed, with buttons to confirm, change
    one field, or cancel. Nothing changes without the customer's yes to it."""

    def name(self) -> str:
        return "action_ask_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        from actions import complaints

        loop = tracker.active_loop.get("name")
        if loop == "complaint_form":
            text, buttons = complaints.summary(self.services.settings, tracker)
        else:
            msisdn = verified_number(self.services.settings, tracker)
            text, buttons = await asyncio.to_thread(_summary, self.backend, loop, tracker, msisdn)
        dispatcher.utter_message(text=text, buttons=[*buttons, CANCEL])
        return []


def change_button(title: str, slot: str) -> dict[str, str]:
    """A summary button that asks for one field again (read by extract.changed_field)."""
    return {"title": title, "payload": f'/inform{{"change_field": "{slot}"}}'}


def _summary(backend: AccountBackend, loop: str | None, tracker: Tracker,
             msisdn: str) -> tuple[str, list[dict[str, str]]]:
    account = backend.summary(msisdn)
    number = display_number(msisdn)
    if loop == "change_plan_form":
        plan = next(p for p in backend.available_plans()
                    if p.code == tracker.get_slot("plan_choice"))
        return (f"Move {number} from {account.plan.name} ({account.plan.monthly_fee}/month) "
                f"to {plan.name} at {plan.monthly_fee}/month, starting today ({plan.description})"
                ". Shall I go ahead?",
                [{"title": f"Yes, move me to {plan.name}", "payload": "/affirm"},
                 change_button("Choose another plan", "plan_choice")])
    if loop == "data_pack_form":
        pack = next(p for p in backend.data_packs() if p.code == tracker.get_slot("pack_choice"))
        paid = (f"taken from your credit ({account.balance} now)" if account.plan.prepaid
                else "added to your next bill")
        return (f"Add {pack.name} for {pack.price} ({_pack_size(pack)}, valid "
                f"{pack.validity_days} days) to {number}, {paid}. Shall I go ahead?",
                [{"title": f"Yes, add {pack.name}", "payload": "/affirm"},
                 change_button("Choose another pack", "pack_choice")])
    if loop == "vas_form":
        codes = (tracker.get_slot("vas_choice") or "").split(",")
        chosen = [s for s in backend.subscriptions(msisdn) if s.code in codes]
        names = ", ".join(s.name for s in chosen)
        monthly = sum(s.price.pence for s in chosen) / 100
        return (f"Cancel {names}? You'll stop paying £{monthly:.2f}/month for it from today. "
                "Shall I go ahead?",
                [{"title": "Yes, cancel it", "payload": "/affirm"},
                 change_button("Choose another", "vas_choice")])
    if loop == "roaming_form":
        return (f"Turn on roaming for {number}? {_roaming_terms(account)} Shall I go ahead?",
                [{"title": "Yes, turn it on", "payload": "/affirm"}])
    return (f"Shall I suspend {number} now, so nobody can use your SIM? You can reactivate it "
            "with a new SIM.", [{"title": "Yes, suspend it", "payload": "/affirm"}])


def _roaming_terms(account: AccountSummary) -> str:
    plan = account.plan
    europe = ("your plan includes Roam Like Home in the EU zone" if plan.eu_roaming_included
              else f"in the EU zone {plan.name} pays £2/day")
    return f"On {plan.name}, {europe}; elsewhere a Roam Day Pass costs £2.50/day."


async def _apply(settings: Settings, dispatcher: CollectingDispatcher, tracker: Tracker,
                 category: str, choice_slot: str | None, change, done) -> list[EventType]:
    """After a change form: apply it only if the customer confirmed the summary, then say
    what happened and record it."""
    events = [*reset_flow(tracker)]
    if tracker.get_slot("flow_failed"):
        offer_human(dispatcher, "I couldn't complete that here.")
        return [*events, operation_record(category, "failure", detail="gave up after retries")]
    if tracker.get_slot("confirmed") is not True:
        dispatcher.utter_message(text="OK, I haven't changed anything.")
        return [*events, operation_record(category, "refused", detail="customer declined")]
    msisdn = verified_number(settings, tracker)
    if msisdn is None:  # the verification lapsed meanwhile: nothing changes unverified
        dispatcher.utter_message(text=LAPSED)
        return [*events, operation_record(category, "refused", detail="verification lapsed")]
    choice = tracker.get_slot(choice_slot) if choice_slot else None
    try:
        result = await asyncio.to_thread(change, msisdn, choice)
    except AccountError as exc:
        dispatcher.utter_message(text=str(exc))
        return [*events, operation_record(category, "refused", detail=str(exc))]
    dispatcher.utter_message(text=done(result))
    return [*events, operation_record(category, "success", reference=choice)]
