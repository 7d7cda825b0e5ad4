"""``switchboard contacts ...``: the contact service from the terminal.

Reading: ``history MSISDN``, ``show REF``, ``list``, ``export``, ``config``. Writing (for
operators' scripts and demos): ``customer``, ``begin``, ``touch``, ``complete``, ``operation``.
And ``switchboard customers erase NUMBER``: one customer's data erased on request.
Every command migrates the database first, and says what was wrong instead of a traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO

import redis
from sqlalchemy.orm import Session

from contacts import erasure, service
from contacts.serialize import (
    contact_dict,
    detail_dict,
    history_dict,
    iso,
    page_dict,
    parse_moment,
)
from contacts.service import ContactError, ContactFilter
from switchboard import migrate

EXPORT_COLUMNS = ["reference", "channel", "customer_msisdn", "started_at", "ended_at", "status",
                  "handled_by", "agent_id", "auth_method", "auth_result", "interaction_mode",
                  "disposition", "csat"]


def add_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("contacts", help="contact records: history, show, export, ...")
    sub = parser.add_subparsers(dest="contacts_command", required=True)

    history = sub.add_parser("history", help="a customer's contacts in the last two months")
    history.add_argument("msisdn")
    history.add_argument("--months", type=int, default=2)
    history.add_argument("--limit", type=int, default=20)
    _json_flag(history).set_defaults(run=_history)

    show = sub.add_parser("show", help="one contact with its touches and operations")
    show.add_argument("reference")
    _json_flag(show).set_defaults(run=_show)

    listing = sub.add_parser("list", help="query contacts by customer, channel, period, ...")
    _filters(listing)
    listing.add_argument("--page", type=int, default=1)
    listing.add_argument("--page-size", type=int, default=50)
    _json_flag(listing).set_defaults(run=_list)

    export = sub.add_parser("export", help="every contact of a period, as CSV or JSON lines")
    _filters(export)
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--output", help="file to write (default: standard output)")
    export.set_defaults(run=_export)

    config = sub.add_parser("config", help="channels, modes, operation categories, dispositions")
    _json_flag(config).set_defaults(run=_config)

    customer = sub.add_parser("customer", help="create or update a customer")
    customer.add_argument("msisdn")
    customer.add_argument("--name", default="")
    customer.add_argument("--plan")
    customer.add_argument("--status", default="active")
    customer.set_defaults(run=_customer)

    begin = sub.add_parser("begin", help="begin a contact")
    begin.add_argument("--channel", required=True)
    begin.add_argument("--external-id", required=True, help="e.g. the sender's number")
    begin.add_argument("--sender", help="conversation id (default: the external id)")
    begin.add_argument("--mode", default="inbound", help="interaction mode")
    begin.set_defaults(run=_begin)

    touch = sub.add_parser("touch", help="add a message to a contact")
    touch.add_argument("reference")
    touch.add_argument("--direction", required=True, choices=["in", "out"])
    touch.add_argument("--author", required=True, choices=["customer", "bot", "agent", "system"])
    touch.add_argument("--text", required=True)
    touch.add_argument("--key", help="idempotency key: a repeated key is stored once")
    touch.set_defaults(run=_touch)

    complete = sub.add_parser("complete", help="complete a contact")
    complete.add_argument("reference")
    complete.add_argument("--disposition", required=True)
    complete.add_argument("--status", default="completed", choices=["completed", "abandoned"])
    complete.add_argument("--csat", type=int)
    complete.set_defaults(run=_complete)

    operation = sub.add_parser("operation", help="record an operation in a contact")
    operation.add_argument("reference")
    operation.add_argument("--category", required=True)
    operation.add_argument("--result", required=True)
    operation.add_argument("--op-reference", help="e.g. a complaint number")
    operation.add_argument("--detail", default="")
    operation.add_argument("--key")
    operation.set_defaults(run=_operation)

    parser.set_defaults(func=run)
    _add_customer_commands(commands)


def _add_customer_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("customers", help="customers' data: erase on request")
    sub = parser.add_subparsers(dest="customers_command", required=True)
    erase = sub.add_parser(
        "erase", help="erase one customer's data: contacts' texts, channel identities, "
                      "complaints' text, conversations and codes in Redis")
    erase.add_argument("number", nargs="+", help="07700 900001, +447700900001 or 447700900001")
    erase.add_argument("--yes", action="store_true", help="erase without asking")
    erase.set_defaults(func=run_erase)


def run(args: argparse.Namespace) -> int:
    db = migrate.migrated_database(args.services.settings)
    try:
        args.run(args, db)
    except ContactError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


# --- Reading ---

def _history(args: argparse.Namespace, db) -> None:
    with db.reading() as session:
        history = service.recent_contacts(session, args.msisdn, months=args.months,
                                          limit=args.limit)
        if args.json:
            return _print_json(history_dict(history))
        who = history.customer
        counts = ", ".join(f"{c} {n}" for c, n in sorted(history.counts_by_channel.items()))
        print(f"{who.name or 'Customer'} ({who.msisdn}), plan {who.plan or '-'}: "
              f"{history.total} contacts since {history.since:%Y-%m-%d}"
              + (f" ({counts})" if counts else ""))
        for summary in history.contacts:
            print(_contact_line(summary.contact, summary.topic or "-"))


def _show(args: argparse.Namespace, db) -> None:
    with db.reading() as session:
        detail = service.contact_detail(session, args.reference)
        if args.json:
            return _print_json(detail_dict(detail))
        c = detail.contact
        customer = c.customer.msisdn if c.customer_id else "anonymous"
        print(f"Contact {c.reference} on {c.channel}, {c.status}"
              f"{f' ({c.disposition})' if c.disposition else ''}, handled by {c.handled_by}"
              f"{f' (agent {c.agent_id})' if c.agent_id else ''}")
        print(f"  customer {customer}; started {iso(c.started_at)}; ended {iso(c.ended_at) or '-'}"
              f"; authentication {c.auth_method or '-'} {c.auth_result or ''}".rstrip())
        for t in detail.touches:
            intent = f"  [{t.intent} {t.confidence:.2f}]" if t.intent and t.confidence else ""
            print(f"  {iso(t.at)}  {t.author:<8} {'>' if t.direction == 'in' else '<'} "
                  f"{t.text}{intent}")
        for o in detail.operations:
            print(f"  operation {iso(o.at)}  {o.category} {o.result}"
                  f"{f' ref {o.reference}' if o.reference else ''}")


def _list(args: argparse.Namespace, db) -> None:
    with db.reading() as session:
        page = service.query_contacts(session, _filter(args), page=args.page,
                                      page_size=args.page_size)
        if args.json:
            return _print_json(page_dict(page))
        print(f"{page.total} contacts, page {page.page} of {max(page.pages, 1)}")
        for contact in page.items:
            print(_contact_line(contact, contact.sender_id))


def _export(args: argparse.Namespace, db) -> None:
    output: TextIO = open(args.output, "w", newline="") if args.output else sys.stdout  # noqa: SIM115
    try:
        rows = _all_contacts(db, _filter(args))
        if args.format == "json":
            for row in rows:
                output.write(json.dumps(row) + "\n")
        else:
            writer = csv.DictWriter(output, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    finally:
        if args.output:
            output.close()


def _all_contacts(db, filters: ContactFilter) -> Iterator[dict[str, Any]]:
    page_number = 1
    while True:
        with db.reading() as session:
            page = service.query_contacts(session, filters, page=page_number,
                                          page_size=service.MAX_PAGE_SIZE)
            rows = [contact_dict(c) for c in page.items]
        yield from rows
        if page_number >= page.pages:
            return
        page_number += 1


def _config(args: argparse.Namespace, db) -> None:
    with db.reading() as session:
        config = service.contact_configuration(session)
    if args.json:
        return _print_json(config)
    for name, rows in config.items():
        print(name.replace("_", " ").capitalize() + ":")
        for row in rows:
            print(f"  {row['code']:<24} {row['name']}")


# --- Writing ---

def _customer(args: argparse.Namespace, db) -> None:
    _write(db, lambda s: service.upsert_customer(
        s, args.msisdn, name=args.name, plan=args.plan, status=args.status).msisdn)


def _begin(args: argparse.Namespace, db) -> None:
    _write(db, lambda s: service.begin_contact(
        s, channel=args.channel, external_id=args.external_id, sender_id=args.sender,
        interaction_mode=args.mode).reference)


def _touch(args: argparse.Namespace, db) -> None:
    _write(db, lambda s: "recorded" if service.touch_contact(
        s, service.find_contact(s, args.reference), direction=args.direction,
        author=args.author, text=args.text, key=args.key) else "already recorded")


def _complete(args: argparse.Namespace, db) -> None:
    _write(db, lambda s: service.complete_contact(
        s, service.find_contact(s, args.reference), disposition=args.disposition,
        status=args.status, csat=args.csat).status)


def _operation(args: argparse.Namespace, db) -> None:
    _write(db, lambda s: "recorded" if service.record_operation(
        s, service.find_contact(s, args.reference), category=args.category,
        result=args.result, reference=args.op_reference, detail=args.detail,
        key=args.key) else "already recorded")


# --- Erasure ---

def run_erase(args: argparse.Namespace) -> int:
    """``customers erase``: find, describe, confirm (unless ``--yes``), erase, summarise.
    Exit status 0 when erased, 1 when not confirmed, 2 on an error."""
    try:
        msisdn = erasure.parse_number("".join(args.number))
        db = migrate.migrated_database(args.services.settings)
        subject = erasure.find_subject(db, msisdn)
        print(_found(subject))
        if not (args.yes or _confirmed("Erase it? Counts stay for reports. [y/N] ")):
            print("Nothing erased.")
            return 1
        outcome = erasure.erase(db, args.services.redis, subject)
    except erasure.ErasureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except redis.RedisError as exc:
        print(f"error: Redis unavailable ({type(exc).__name__}); nothing in the database was "
              "erased, try again", file=sys.stderr)
        return 2
    print(_erased(outcome))
    return 0


def _found(subject: erasure.Subject) -> str:
    from actions.verification import display_number  # see erasure.parse_number

    number = display_number(subject.msisdn)
    if not subject.found_anything:
        return (f"No contacts, identities or complaints for {number}; its one-time codes and "
                "attempt counters will still be removed.")
    return (f"For {number}: {_count(len(subject.contact_ids), 'contact')}, "
            f"{_count(len(subject.identity_ids), 'channel identity', 'channel identities')}, "
            f"{'a customer record' if subject.customer_id else 'no customer record'}, "
            f"{_count(subject.complaints, 'complaint')}.")


def _erased(outcome: erasure.Outcome) -> str:
    rows = outcome.rows
    lines = [f"Erased ({outcome.reference}): {_count(rows.contacts, 'contact')} anonymised "
             f"({_count(rows.touches, 'message')} emptied), "
             f"{_count(rows.identities, 'channel identity', 'channel identities')} and "
             f"{_count(rows.customers, 'customer record')} removed, "
             f"{_count(outcome.complaints, 'complaint')} without its text, "
             f"{_count(outcome.redis_records, 'Redis record')} removed."]
    return "\n".join(lines + [f"Note: {note}" for note in outcome.notes])


def _confirmed(question: str) -> bool:
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:  # no terminal and no --yes: not confirmed
        return False


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


# --- Helpers ---

def _write(db, work: Callable[[Session], str]) -> None:
    with db.transaction() as session:
        outcome = work(session)
    print(outcome)


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customer", help="msisdn")
    parser.add_argument("--channel")
    parser.add_argument("--status")
    parser.add_argument("--agent")
    parser.add_argument("--since", help="ISO date or date-time (UTC)")
    parser.add_argument("--until", help="ISO date or date-time (UTC), exclusive")


def _filter(args: argparse.Namespace) -> ContactFilter:
    return ContactFilter(customer_msisdn=args.customer, channel=args.channel, status=args.status,
                         agent_id=args.agent, since=parse_moment(args.since, "--since"),
                         until=parse_moment(args.until, "--until"))


def _json_flag(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _contact_line(contact, extra: str) -> str:
    return (f"{contact.reference}  {contact.started_at:%Y-%m-%d %H:%M}  {contact.channel:<9} "
            f"{contact.status:<10} {contact.disposition or '-':<20} {extra}")


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))
