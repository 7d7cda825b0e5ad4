"""Account self-service for verified customers, answered from the operator back end.

One-step requests (balance, data, bill, plan, roaming, PUK) answer at once; changes (plan,
data pack, value-added services, a lost SIM) go through a form that lists the options and asks
for confirmation. Every request ends as a contact operation with its result.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from accounts.backend import AccountError, DataPackInfo, PlanInfo, VasInfo
from actions.contact_records import operation_record
from actions.flow import FlowValidation, accept, backend, offer_human, reject, reset_flow
from actions.verification import display_number, verified_number
from switchboard.log import get_logger

log = get_logger(__name__)

YES_NO = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
# Requests that continue in a form of their own once the customer is verified.
FORMS = {"change_plan": "change_plan_form", "buy_data_pack": "data_pack_form",
         "unsubscribe_vas": "vas_form", "report_lost_sim": "lost_sim_form",
         "file_complaint": "complaint_form", "report_network_issue": "complaint_form",
         "billing_dispute": "complaint_form", "complaint_status": "complaint_status_form"}
PRESET_CATEGORY = {"report_network_issue": "network", "billing_dispute": "billing"}


async def serve(
    dispatcher: CollectingDispatcher, tracker: Tracker, request: str | None
) -> list[EventType]:
    """Answer a verified customer's request, or start the form that carries it out."""
    msisdn = verified_number(tracker)
    if request in FORMS:
        events: list[EventType] = [FollowupAction(FORMS[request])]
        if request in PRESET_CATEGORY:
            events.insert(0, SlotSet("complaint_category", PRESET_CATEGORY[request]))
        if request == "complaint_status" and tracker.get_slot("complaint_reference"):
            # Given with the question ("status of CMP-2026-000123"): keep it for the form.
            events.insert(0, SlotSet("complaint_reference",
                                     tracker.get_slot("complaint_reference")))
        if request == "unsubscribe_vas" and not await asyncio.to_thread(
                backend().subscriptions, msisdn):
            dispatcher.utter_message(text="You have no value-added subscriptions on your line, "
                                          "so there's nothing to cancel.")
            return [operation_record("vas_unsubscription", "refused", detail="none active")]
        return events
    answer = ONE_STEP.get(request or "")
    if answer is None:
        dispatcher.utter_message(response="utter_how_can_i_help")
        return []
    try:
        text, category = await asyncio.to_thread(answer, msisdn)
    except AccountError as exc:
        dispatcher.utter_message(text=str(exc))
        return [operation_record(ONE_STEP_CATEGORY[request], "refused", detail=str(exc))]
    dispatcher.utter_message(text=text)
    return [operation_record(category, "success")]


def _balance(msisdn: str) -> tuple[str, str]:
    account = backend().summary(msisdn)
    if account.plan.prepaid:
        return f"You have {account.balance} of credit on {display_number(msisdn)}.", \
            "balance_query"
    bill = backend().latest_bill(msisdn)
    due = f", due on {bill.due_on:%d %B}" if bill and not bill.paid else ""
    return f"Your balance to pay is {account.balance}{due}.", "balance_query"


def _data_usage(msisdn: str) -> tuple[str, str]:
    usage = backend().data_usage(msisdn)
    used = _gb(usage.used_mb)
    if usage.allowance_mb is None:
        text = f"You've used {used} this period, and your data is unlimited."
    else:
        text = (f"You've used {used} of {_gb(usage.allowance_mb)}: {_gb(usage.left_mb or 0)} "
                f"left until {usage.period_ends:%d %B}.")
    return text, "data_usage_query"


def _bill(msisdn: str) -> tuple[str, str]:
    bill = backend().latest_bill(msisdn)
    if bill is None:
        return "You're on pay as you go, so there are no bills: top-ups pay as you go.", \
            "bill_query"
    state = "paid" if bill.paid else f"due on {bill.due_on:%d %B}"
    return (f"Your latest bill, for {bill.issued_on:%B %Y}, is {bill.amount} ({state}): "
            f"{bill.breakdown}."), "bill_query"


def _plan(msisdn: str) -> tuple[str, str]:
    plan = backend().summary(msisdn).plan
    return (f"You're on {plan.name} ({plan.monthly_fee}/month): {plan.description}."), \
        "plan_query"


def _roaming(msisdn: str) -> tuple[str, str]:
    if backend().summary(msisdn).roaming_enabled:
        return "Roaming is already on for your line: you're ready to travel.", \
            "roaming_activation"
    backend().activate_roaming(msisdn)
    return ("Done: roaming is now on for your line. In the EU zone your plan's Roam Like Home "
            "terms apply; elsewhere add a Roam Day Pass (£2.50/day)."), "roaming_activation"


def _puk(msisdn: str) -> tuple[str, str]:
    return (f"Your PUK code is {backend().puk(msisdn)}. Type it when your phone asks, then "
            "choose a new PIN. Please don't share it."), "puk_request"


ONE_STEP = {"check_balance": _balance, "check_data_usage": _data_usage, "check_bill": _bill,
            "check_plan": _plan, "activate_roaming": _roaming, "get_puk": _puk}
ONE_STEP_CATEGORY = {"check_balance": "balance_query", "check_data_usage": "data_usage_query",
                     "check_bill": "bill_query", "check_plan": "plan_query",
                     "activate_roaming": "roaming_activation", "get_puk": "puk_request"}


def _gb(mb: int) -> str:
    return f"{mb / 1024:.1f} GB"


def _match(text: str, options: list[Any]) -> Any | None:
    """The option whose name or code the customer typed (spaces and case ignored)."""
    wanted = re.sub(r"[^a-z0-9]", "", (text or "").lower())
    for option in options:
        if wanted in (re.sub(r"[^a-z0-9]", "", option.name.lower()), option.code):
            return option
    return None


# --- Change plan ---

class ValidateChangePlanForm(FlowValidation):
    def name(self) -> str:
        return "validate_change_plan_form"

    async def validate_plan_choice(self, value: Any, dispatcher: CollectingDispatcher,
                                   tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        plans = await asyncio.to_thread(backend().available_plans)
        plan = _match(str(value), plans)
        if plan is None:
            names = ", ".join(p.name for p in plans)
            return reject(dispatcher, tracker, "plan_choice",
                          f"I don't know a plan called \"{value}\". Our plans are: {names}.")
        current = (await asyncio.to_thread(backend().summary,
                                           verified_number(tracker))).plan
        if plan.code == current.code:
            return reject(dispatcher, tracker, "plan_choice",
                          f"You're already on {plan.name}. Which plan would you like instead?")
        return accept("plan_choice", plan.code)


class ActionAskPlanChoice(Action):
    def name(self) -> str:
        return "action_ask_plan_choice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        msisdn = verified_number(tracker)
        current = (await asyncio.to_thread(backend().summary, msisdn)).plan
        plans = [p for p in await asyncio.to_thread(backend().available_plans)
                 if p.code != current.code]
        lines = [f"You're on {current.name} ({current.monthly_fee}/month). You can move to:"]
        lines += [f"- {p.name}: {p.monthly_fee}/month, {p.description}" for p in plans]
        lines.append("Which one would you like?")
        dispatcher.utter_message(text="\n".join(lines),
                                 buttons=[{"title": p.name, "payload": p.name} for p in plans])
        return []


class ActionChangePlan(Action):
    def name(self) -> str:
        return "action_change_plan"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        return await _apply(dispatcher, tracker, "plan_change", "plan_choice",
                            backend().change_plan, _plan_done)


def _plan_done(plan: PlanInfo) -> str:
    return (f"Done: you're now on {plan.name} ({plan.monthly_fee}/month). The change shows on "
            "your next bill, and I've noted it on your account.")


# --- Data packs ---

class ValidateDataPackForm(FlowValidation):
    def name(self) -> str:
        return "validate_data_pack_form"

    async def validate_pack_choice(self, value: Any, dispatcher: CollectingDispatcher,
                                   tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        packs = await asyncio.to_thread(backend().data_packs)
        pack = _match(str(value), packs)
        if pack is None:
            names = ", ".join(p.name for p in packs)
            return reject(dispatcher, tracker, "pack_choice",
                          f"I don't know a data pack called \"{value}\". We have: {names}.")
        return accept("pack_choice", pack.code)


class ActionAskPackChoice(Action):
    def name(self) -> str:
        return "action_ask_pack_choice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        packs = await asyncio.to_thread(backend().data_packs)
        lines = ["Which data pack would you like?"]
        lines += [f"- {p.name}: {p.price}, {_pack_size(p)}, {p.validity_days} days"
                  for p in packs]
        dispatcher.utter_message(text="\n".join(lines),
                                 buttons=[{"title": p.name, "payload": p.name} for p in packs])
        return []


def _pack_size(pack: DataPackInfo) -> str:
    return "unlimited data" if pack.data_mb is None else _gb(pack.data_mb)


class ActionBuyDataPack(Action):
    def name(self) -> str:
        return "action_buy_data_pack"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        return await _apply(dispatcher, tracker, "data_pack_purchase", "pack_choice",
                            backend().add_data_pack, _pack_done)


def _pack_done(pack: DataPackInfo) -> str:
    return (f"Done: {pack.name} ({_pack_size(pack)}) is on your line now, valid for "
            f"{pack.validity_days} days. {pack.price} will be added to your next bill.")


# --- Value-added services ---

class ValidateVasForm(FlowValidation):
    def name(self) -> str:
        return "validate_vas_form"

    async def validate_vas_choice(self, value: Any, dispatcher: CollectingDispatcher,
                                  tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        subscriptions = await asyncio.to_thread(backend().subscriptions,
                                                verified_number(tracker))
        if re.search(r"\b(all|every|both)\b", str(value).lower()):
            return accept("vas_choice", ",".join(s.code for s in subscriptions))
        chosen = _match(str(value), subscriptions)
        if chosen is None:
            names = ", ".join(s.name for s in subscriptions)
            return reject(dispatcher, tracker, "vas_choice",
                          f"You don't have a subscription called \"{value}\". Yours are: "
                          f"{names}. Which should I cancel (or say \"all\")?")
        return accept("vas_choice", chosen.code)


class ActionAskVasChoice(Action):
    def name(self) -> str:
        return "action_ask_vas_choice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        subscriptions = await asyncio.to_thread(backend().subscriptions,
                                                verified_number(tracker))
        lines = ["These value-added services are on your line:"]
        lines += [f"- {s.name}: {s.price}/month" for s in subscriptions]
        lines.append("Which would you like to cancel?")
        buttons = [{"title": s.name, "payload": s.name} for s in subscriptions]
        if len(subscriptions) > 1:
            buttons.append({"title": "All of them", "payload": "all of them"})
        dispatcher.utter_message(text="\n".join(lines), buttons=buttons)
        return []


class ActionUnsubscribeVas(Action):
    def name(self) -> str:
        return "action_unsubscribe_vas"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        def cancel_all(msisdn: str, codes: str) -> list[VasInfo]:
            return [backend().cancel_subscription(msisdn, code) for code in codes.split(",")]

        def done(cancelled: list[VasInfo]) -> str:
            names = ", ".join(f"{v.name} ({v.price}/month)" for v in cancelled)
            return f"Done: I've cancelled {names}. You won't be charged for them again."

        return await _apply(dispatcher, tracker, "vas_unsubscription", "vas_choice",
                            cancel_all, done)


# --- Lost or stolen SIM ---

class ActionReportLostSim(Action):
    def name(self) -> str:
        return "action_report_lost_sim"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        def suspend(msisdn: str, _choice: None) -> str:
            backend().suspend_line(msisdn, "lost or stolen SIM")
            return msisdn

        def done(msisdn: str) -> str:
            return (f"Done: {display_number(msisdn)} is suspended, so nobody can make calls or "
                    "use data on it. Next steps: pick up a replacement SIM in any Kestrel store "
                    "with photo ID (free), or ask an agent to post one; your number moves to "
                    "the new SIM. If the phone was stolen, report it to the police too.")

        return await _apply(dispatcher, tracker, "sim_suspension", None, suspend, done)


# --- Shared by every change ---

class ActionAskConfirmed(Action):
    """The yes/no question before a change: says exactly what will happen."""

    def name(self) -> str:
        return "action_ask_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        loop = tracker.active_loop.get("name")
        question = await asyncio.to_thread(_confirmation_question, loop, tracker)
        dispatcher.utter_message(text=question, buttons=YES_NO)
        return []


def _confirmation_question(loop: str | None, tracker: Tracker) -> str:
    msisdn = verified_number(tracker)
    if loop == "change_plan_form":
        plan = next(p for p in backend().available_plans()
                    if p.code == tracker.get_slot("plan_choice"))
        return (f"Move {display_number(msisdn)} to {plan.name} at {plan.monthly_fee}/month, "
                "starting today? (yes/no)")
    if loop == "data_pack_form":
        pack = next(p for p in backend().data_packs() if p.code == tracker.get_slot("pack_choice"))
        return f"Add {pack.name} for {pack.price}, charged to your next bill? (yes/no)"
    if loop == "vas_form":
        codes = (tracker.get_slot("vas_choice") or "").split(",")
        names = [s.name for s in backend().subscriptions(msisdn) if s.code in codes]
        return f"Cancel {', '.join(names)}? (yes/no)"
    return (f"Shall I suspend {display_number(msisdn)} now, so nobody can use your SIM? You "
            "can reactivate it with a new SIM. (yes/no)")


async def _apply(dispatcher: CollectingDispatcher, tracker: Tracker, category: str,
                 choice_slot: str | None, change, done) -> list[EventType]:
    """After a change form: apply it if confirmed, then say what happened and record it."""
    events = [*reset_flow(tracker)]
    if tracker.get_slot("flow_failed"):
        offer_human(dispatcher, "I couldn't complete that here.")
        return [*events, operation_record(category, "failure", detail="gave up after retries")]
    if tracker.get_slot("confirmed") is not True:
        dispatcher.utter_message(text="OK, I haven't changed anything.")
        return [*events, operation_record(category, "refused", detail="customer declined")]
    msisdn = verified_number(tracker)
    choice = tracker.get_slot(choice_slot) if choice_slot else None
    try:
        result = await asyncio.to_thread(change, msisdn, choice)
    except AccountError as exc:
        dispatcher.utter_message(text=str(exc))
        return [*events, operation_record(category, "refused", detail=str(exc))]
    dispatcher.utter_message(text=done(result))
    return [*events, operation_record(category, "success", reference=choice)]
