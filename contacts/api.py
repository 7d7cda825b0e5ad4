"""The contacts REST API under ``/api/contacts``: what the console and operator systems read.

JSON in and out, ``Authorization: Bearer <token>`` on every call, 400 with the reason for a bad
request, 404 for an unknown contact or customer. Handlers run the service in a worker thread so
the event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from contacts import service
from contacts.serialize import detail_dict, history_dict, page_dict, parse_moment
from contacts.service import ContactError, ContactFilter, ContactNotFound
from switchboard.db import Database
from switchboard.keys import token_matches

T = TypeVar("T")

blueprint = Blueprint("contacts_api", url_prefix="/api/contacts")


class BadRequest(ContactError):
    pass


@blueprint.middleware("request")
async def require_token(request: Request) -> HTTPResponse | None:
    if not token_matches(request.app.ctx.api_token, request.headers.get("authorization")):
        return json({"error": "missing or wrong API token (Authorization: Bearer <token>)"},
                    status=401)
    return None


@blueprint.exception(ContactNotFound)
async def not_found(request: Request, exc: ContactNotFound) -> HTTPResponse:
    return json({"error": str(exc)}, status=404)


@blueprint.exception(ContactError)
async def bad_request(request: Request, exc: ContactError) -> HTTPResponse:
    return json({"error": str(exc)}, status=400)


@blueprint.get("/")
async def list_contacts(request: Request) -> HTTPResponse:
    args = request.args
    filters = ContactFilter(
        customer_msisdn=args.get("customer"), channel=args.get("channel"),
        status=args.get("status"), agent_id=args.get("agent"), sender_id=args.get("sender"),
        since=parse_moment(args.get("since"), "since"),
        until=parse_moment(args.get("until"), "until"),
    )
    page, size = _int_arg(request, "page", 1), _int_arg(request, "page_size", 50)
    return json(await _read(request, lambda s: page_dict(
        service.query_contacts(s, filters, page=page, page_size=size))))


@blueprint.post("/")
async def begin(request: Request) -> HTTPResponse:
    body = _body(request)
    key = request.headers.get("Idempotency-Key") or body.get("key")
    if key is not None and (not isinstance(key, str) or not 0 < len(key) <= 160):
        raise BadRequest("the idempotency key is 1 to 160 characters")
    reference = await _write(request, lambda s: service.begin_contact(
        s, channel=_field(body, "channel"), external_id=_field(body, "external_id"),
        sender_id=body.get("sender_id"), interaction_mode=body.get("interaction_mode", "inbound"),
        key=key,
    ).reference)
    return json(await _detail(request, reference), status=201)


@blueprint.get("/config")
async def configuration(request: Request) -> HTTPResponse:
    return json(await _read(request, service.contact_configuration))


@blueprint.get("/history/<msisdn>")
async def history(request: Request, msisdn: str) -> HTTPResponse:
    months, limit = _int_arg(request, "months", 2, 24), _int_arg(request, "limit", 20, 200)
    return json(await _read(request, lambda s: history_dict(
        service.recent_contacts(s, msisdn, months=months, limit=limit))))


@blueprint.get("/<reference>")
async def detail(request: Request, reference: str) -> HTTPResponse:
    return json(await _detail(request, reference))


@blueprint.post("/<reference>/touches")
async def touch(request: Request, reference: str) -> HTTPResponse:
    body = _body(request)

    def write(session) -> bool:
        contact = service.find_contact(session, reference)
        return service.touch_contact(
            session, contact, direction=_field(body, "direction"), author=_field(body, "author"),
            text=_field(body, "text"), key=body.get("key"),
            at=parse_moment(body.get("at"), "at"),
        ) is not None

    created = await _write(request, write)
    return json(await _detail(request, reference), status=201 if created else 200)


@blueprint.post("/<reference>/complete")
async def complete(request: Request, reference: str) -> HTTPResponse:
    body = _body(request)
    await _write(request, lambda s: service.complete_contact(
        s, service.find_contact(s, reference), disposition=_field(body, "disposition"),
        status=body.get("status", "completed"), csat=body.get("csat"),
        at=parse_moment(body.get("at"), "at"),
    ))
    return json(await _detail(request, reference))


@blueprint.post("/<reference>/operations")
async def operation(request: Request, reference: str) -> HTTPResponse:
    body = _body(request)

    def write(session) -> bool:
        return service.record_operation(
            session, service.find_contact(session, reference),
            category=_field(body, "category"), result=_field(body, "result"),
            reference=body.get("reference"), detail=body.get("detail") or "", key=body.get("key"),
        ) is not None

    created = await _write(request, write)
    return json(await _detail(request, reference), status=201 if created else 200)


# --- Helpers ---

async def _detail(request: Request, reference: str) -> dict[str, Any]:
    return await _read(request, lambda s: detail_dict(service.contact_detail(s, reference)))


async def _read(request: Request, work: Callable[[Any], T]) -> T:
    return await _in_thread(request, work, writes=False)


async def _write(request: Request, work: Callable[[Any], T]) -> T:
    return await _in_thread(request, work, writes=True)


async def _in_thread(request: Request, work: Callable[[Any], T], writes: bool) -> T:
    """Run one unit of work in a worker thread, so the event loop never waits on the database."""
    db: Database = request.app.ctx.db
    unit_of_work = db.transaction if writes else db.reading

    def run() -> T:
        with unit_of_work() as session:
            return work(session)

    return await asyncio.get_running_loop().run_in_executor(None, run)


def _body(request: Request) -> dict[str, Any]:
    try:
        body = request.json
    except Exception as exc:  # Sanic raises its own error type for malformed JSON
        raise BadRequest("the body must be a JSON object") from exc
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{name!r} is required and must be a non-empty string")
    return value


MAX_INT_ARG = 1_000_000


def _int_arg(request: Request, name: str, default: int, most: int = MAX_INT_ARG) -> int:
    """``?name=``: an integer from 1 to ``most`` (default when absent); else BadRequest."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest(f"{name} must be an integer, got {raw!r}") from exc
    if not 1 <= value <= most:  # a database integer, and no page before the first
        raise BadRequest(f"{name} must be between 1 and {most}")
    return value
