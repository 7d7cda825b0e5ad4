"""Identity verification: the customer's number, then a one-time code by SMS or the service
password. Five wrong answers for one number in 15 minutes lock it for 15 minutes everywhere.

Codes and passwords are never logged, echoed or kept: the slots are cleared as soon as they are
checked, and the contact recorder masks the message that answered them.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
import uuid
from typing import Any

import redis
from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import ServiceAction, UsesServices
from actions.contact_records import authentication_record, operation_record
from actions.flow import accept, offer_human, reject, reset_flow
from actions.human import hand_over
from switchboard.keys import derived_key, secret_key
from switchboard.log import conversation_ref, get_logger
from switchboard.settings import Settings
from switchboard.sms import SmsError, sms_gateway
from verification import attempts, codes, identity
from verification.idle import verification_current, verified_idle_limit

log = get_logger(__name__)

METHOD_BUTTONS = [
    {"title": "Text me a code", "payload": '/inform{"verification_method": "otp"}'},
    {"title": "Use my service password", "payload": '/inform{"verification_method": "password"}'},
]


def normalise_msisdn(text: str) -> str | None:
    """A UK mobile number in international form (447700900123), or None if it is not one."""
    digits = re.sub(r"[\s\-().]", "", text or "")
    digits = re.sub(r"^(\+|00)", "", digits)
    if re.fullmatch(r"07\d{9}", digits):
        digits = "44" + digits[1:]
    return digits if re.fullmatch(r"447\d{9}", digits) else None


def display_number(msisdn: str) -> str:
    """447700900123 as 07700 900123."""
    local = "0" + msisdn[2:]
    return f"{local[:5]} {local[5:]}"


def parse_method(text: str) -> str | None:
    lowered = (text or "").lower()
    if any(word in lowered for word in ("pass", "pin")):
        return "password"
    if any(word in lowered for word in ("otp", "code", "text", "sms", "message")):
        return "otp"
    return None


@functools.cache  # once per settings: the secret key may be read from a file
def _identity_key(settings: Settings) -> bytes:
    return derived_key(settings, identity.PURPOSE)


def verified_number(settings: Settings, tracker: Tracker) -> str | None:
    """The customer's number if they verified in this contact through our own verification (the
    slot's seal checks: a made-up tracker claims nothing), else None."""
    msisdn = identity.unseal(_identity_key(settings), tracker.sender_id,
                             tracker.get_slot("verified_msisdn"))
    return msisdn if msisdn and _still_current(settings, tracker) else None


def is_verified(settings: Settings, tracker: Tracker) -> bool:
    return verified_number(settings, tracker) is not None


def _still_current(settings: Settings, tracker: Tracker) -> bool:
    """The verification has not been followed by a goodbye or by a silence longer than the
    contact inactivity timeout (a new contact verifies again)."""
    return verification_current(tracker.events,
                                verified_idle_limit(settings, tracker.sender_id))


class ValidateVerificationForm(UsesServices, FormValidationAction):
    def name(self) -> str:
        return "validate_verification_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("flow_failed") or is_verified(self.services.settings, tracker):
            return []  # given up, locked out, or done: the form ends
        secret = {"otp": "otp_code", "password": "service_password"}.get(
            tracker.get_slot("verification_method"))
        return [s for s in domain_slots if s in ("phone_number", "verification_method", secret)]

    async def validate_phone_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        msisdn = normalise_msisdn(str(value))
        if msisdn is None:
            return reject(dispatcher, tracker, "phone_number",
                          "That doesn't look like a UK mobile number. Please type the 11 digits, "
                          "like 07700 900123.")
        if await asyncio.to_thread(attempts.is_locked, self.services.redis, msisdn):
            return _locked(self.services.redis, dispatcher, msisdn)
        return accept("phone_number", msisdn)

    async def validate_verification_method(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        method = parse_method(str(value))
        if method is None:
            return reject(dispatcher, tracker, "verification_method",
                          "Please choose: a code by text message, or your service password.")
        if method == "otp":
            msisdn = tracker.get_slot("phone_number")
            try:
                await asyncio.to_thread(self._send_code, msisdn)
            except SmsError:
                log.error("otp.not_sent", conversation=conversation_ref(tracker.sender_id))
                dispatcher.utter_message(text="Sorry, I couldn't send a text message just now. "
                                              "Please use your service password instead.")
                method = "password"
        return accept("verification_method", method)

    async def validate_otp_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        msisdn = tracker.get_slot("phone_number")
        right = await asyncio.to_thread(codes.consume_code, self.services.redis,
                                        secret_key(self.services.settings), msisdn, str(value))
        return await self._checked(dispatcher, tracker, msisdn, right, "otp_sms", "otp_code")

    async def validate_service_password(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        msisdn = tracker.get_slot("phone_number")
        password = re.sub(r"\s", "", str(value))
        right = (bool(re.fullmatch(r"\d{6}", password))
                 and await asyncio.to_thread(self.backend.check_password, msisdn, password))
        return await self._checked(dispatcher, tracker, msisdn, right, "service_password",
                                   "service_password")

    def _send_code(self, msisdn: str) -> None:
        """Send a code only to real subscribers; for other numbers, do the same visible thing."""
        if not self.backend.exists(msisdn):
            return
        settings, client = self.services.settings, self.services.redis
        if not codes.may_send(client, msisdn):
            raise SmsError("too many codes for this number this hour")  # the password instead
        code = codes.issue_code(client, secret_key(settings), msisdn)
        sms_gateway(settings).send(msisdn, f"Kestrel Mobile: your verification code is {code}. "
                                           "It expires in 5 minutes. Never share it with anyone.")

    async def _checked(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, msisdn: str, right: bool,
        method: str, slot: str,
    ) -> dict[str, Any]:
        client = self.services.redis
        if await asyncio.to_thread(attempts.is_locked, client, msisdn):
            return _locked(client, dispatcher, msisdn)
        if right:
            await asyncio.to_thread(attempts.clear_failures, client, msisdn)
            return await self._verified(dispatcher, tracker, msisdn, method, slot)
        failures = await asyncio.to_thread(attempts.record_failure, client, msisdn, time.time(),
                                           uuid.uuid4().hex)
        log.info("verification.failed", method=method, failures=failures,
                 conversation=conversation_ref(tracker.sender_id))
        if failures >= attempts.MAX_FAILURES:
            return _locked(client, dispatcher, msisdn)
        what = "code" if slot == "otp_code" else "password"
        left = attempts.MAX_FAILURES - failures
        dispatcher.utter_message(text=f"That {what} isn't right. Please try again "
                                      f"({left} {'try' if left == 1 else 'tries'} left).")
        return {slot: None}

    async def _verified(self, dispatcher: CollectingDispatcher, tracker: Tracker, msisdn: str,
                        method: str, slot: str) -> dict[str, Any]:
        """The right answer: greet the customer and seal their number into the tracker."""
        log.info("verification.succeeded", method=method,
                 conversation=conversation_ref(tracker.sender_id))
        summary = await asyncio.to_thread(self.backend.summary, msisdn)
        dispatcher.utter_message(text=f"Thanks {summary.holder_name.split()[0]}, you're "
                                      "verified.")
        sealed = identity.seal(_identity_key(self.services.settings), tracker.sender_id, msisdn,
                               time.time())
        return {slot: None, "form_retries": None, "verified_msisdn": sealed,
                "verification_method_used": method}


def _locked(client: redis.Redis, dispatcher: CollectingDispatcher, msisdn: str) -> dict[str, Any]:
    minutes = max(attempts.lock_remaining_seconds(client, msisdn) // 60, 1)
    dispatcher.utter_message(
        text=f"For your security, verification for {display_number(msisdn)} is locked after "
             f"too many wrong attempts. You can try again in about {minutes} minutes.")
    return {"otp_code": None, "service_password": None, "flow_failed": "locked"}


class ActionAskVerificationMethod(Action):
    def name(self) -> str:
        return "action_ask_verification_method"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(text="How would you like to confirm it's you?",
                                 buttons=METHOD_BUTTONS)
        return []


class ActionAfterVerification(ServiceAction):
    """The verification form ended: serve what the customer asked for, or offer a human."""

    def name(self) -> str:
        return "action_after_verification"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        from actions.self_service import serve  # the services need verification, not vice versa

        failed = tracker.get_slot("flow_failed")
        if failed in ("other_number", "group_chat"):  # refused by action_account_request
            return reset_flow(tracker)
        msisdn = tracker.get_slot("phone_number")
        settings = self.services.settings
        if not is_verified(settings, tracker):
            from actions.account import OPERATION_CATEGORIES

            events = [*reset_flow(tracker)]
            requested = tracker.get_slot("requested_service")
            if requested in OPERATION_CATEGORIES:  # refused, not dropped: reports count it
                events.append(operation_record(OPERATION_CATEGORIES[requested], "refused",
                                               detail="identity not verified"))
            if msisdn:
                events.append(authentication_record("otp_sms" if tracker.get_slot(
                    "verification_method") == "otp" else "service_password",
                    "locked" if failed == "locked" else "failed", msisdn))
            if failed == "locked":  # locked out: a person checks who they are another way
                return [*events, *await hand_over(self.services, dispatcher, tracker,
                                                  "verification_lockout", "general",
                                                  priority=2)]
            offer_human(dispatcher, "I couldn't verify your identity, so I can't open the "
                                    "account in this chat.")
            return events
        events = [*reset_flow(tracker)]  # before serving: a service may start its own flow
        if tracker.get_slot("phone_number"):  # verified just now, not earlier in the contact
            msisdn = verified_number(settings, tracker)
            summary = await asyncio.to_thread(self.backend.summary, msisdn)
            profile = {"name": summary.holder_name, "plan": summary.plan.name,
                       "status": summary.line_status}
            events = [authentication_record(tracker.get_slot("verification_method_used"),
                                            "verified", msisdn, profile),
                      operation_record("identity_verification", "success"), *events]
        return [*events, *await serve(self.services, self.backend, dispatcher, tracker,
                                      tracker.get_slot("requested_service"))]
