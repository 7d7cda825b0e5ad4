"""Service reports computed from the contact records alone: nothing is counted on the side.

Every metric is defined once, here, with its formula in its docstring. A report covers the
contacts that *started* in a period ``[since, until)`` (naive UTC), optionally on one channel;
everything that happened in those contacts counts, even after ``until``. The two functions the
capacity planner uses (``handoff_arrivals``, ``agent_handle_seconds``) select by the time of
the event instead, because a queue's load is when work arrives.

Where the operations come from: ``handoff_requested`` (result ``success`` = queued for an agent,
``pending`` = a callback was offered, ``failure`` = not queued, or detail ``expired`` = waited
too long) is written by the bot and the expiry worker; ``agent_pickup`` / ``agent_release`` by
``handoff.queue`` when an agent takes or lets go of a chat.

Service targets are per skill (``HANDOFF_SKILL_TARGETS``, else ``HANDOFF_FIRST_RESPONSE_SECONDS``,
default 60, and ``HANDOFF_NEXT_RESPONSE_SECONDS``, default 120), judged from the touches of the
contacts that queued (see ``response_breaches``): a *first response* runs from a
``handoff_requested`` ``success`` (queued; its reference names the skill) to the first agent
touch after it; a *next response* runs, while an agent holds the chat and has already replied
once, from the first customer touch after an agent touch to the agent's next touch (judged by
the skill of that agent's pickup). A response longer than its target is a breach. Responses
that never came are not responses; a queued customer who never got a first one is an abandon,
which the service level counts as missed.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contacts.models import OPEN_STATUSES, Contact, ContactOperation, ContactTouch
from contacts.service import as_utc
from switchboard.settings import ServiceTarget

HANDOFF = "handoff_requested"
PICKUP = "agent_pickup"
RELEASE = "agent_release"
FALLBACK_INTENT = "nlu_fallback"
REPEAT_WINDOW = timedelta(days=7)  # first-contact resolution: no new contact within this
TOP = 10
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Speed-of-answer buckets: (label, upper bound in seconds, inclusive).
WAIT_BUCKETS = (("0-20 s", 20.0), ("20-60 s", 60.0), ("1-2 min", 120.0), ("2-5 min", 300.0),
                ("5-10 min", 600.0), (">10 min", float("inf")))


class ReportError(ValueError):
    """A report request that cannot be answered (the message says why)."""


# --- What a report reads ---------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """The contacts a report covers: started in ``[since, until)``, on ``channel`` if given."""

    since: datetime
    until: datetime
    channel: str | None = None

    def conditions(self) -> list[Any]:
        conditions = [Contact.started_at >= self.since, Contact.started_at < self.until]
        if self.channel is not None:
            conditions.append(Contact.channel == self.channel)
        return conditions


@dataclass(frozen=True)
class Operation:
    category: str
    result: str
    detail: str
    at: datetime
    reference: str | None = None  # on handoffs and pickups: the skill's queue


@dataclass
class ContactFacts:
    """One contact and its handoff-related operations, in the order they happened."""

    id: int
    channel: str
    started_at: datetime
    ended_at: datetime | None
    status: str
    handled_by: str
    customer_id: int | None
    identity_id: int
    operations: list[Operation] = field(default_factory=list)

    @property
    def person(self) -> tuple[str, int]:
        """Who got in touch: the customer once verified, else the channel identity."""
        if self.customer_id is not None:
            return ("customer", self.customer_id)
        return ("identity", self.identity_id)

    def of(self, category: str) -> list[Operation]:
        return [op for op in self.operations if op.category == category]


def load_contacts(session: Session, conditions: Iterable[Any]) -> list[ContactFacts]:
    """The contacts matching ``conditions`` with their handoff, pickup and release operations
    (ordered by time, then by id: the order they were recorded in)."""
    conditions = list(conditions)
    rows = session.execute(
        select(Contact.id, Contact.channel, Contact.started_at, Contact.ended_at, Contact.status,
               Contact.handled_by, Contact.customer_id, Contact.identity_id)
        .where(*conditions).order_by(Contact.started_at, Contact.id)
    ).all()
    contacts = {row.id: ContactFacts(*row) for row in rows}
    operations = session.execute(
        select(ContactOperation.contact_id, ContactOperation.category, ContactOperation.result,
               ContactOperation.detail, ContactOperation.at, ContactOperation.reference)
        .join(Contact, Contact.id == ContactOperation.contact_id)
        .where(*conditions, ContactOperation.category.in_((HANDOFF, PICKUP, RELEASE)))
        .order_by(ContactOperation.contact_id, ContactOperation.at, ContactOperation.id)
    ).all()
    for contact_id, category, result, detail, at, reference in operations:
        contacts[contact_id].operations.append(Operation(category, result, detail, at, reference))
    return list(contacts.values())


# --- Small result types ----------------------------------------------------------------------

@dataclass(frozen=True)
class Ratio:
    """``count`` of ``total``; ``rate`` is None when there is nothing to divide by."""

    count: int
    total: int

    @property
    def rate(self) -> float | None:
        return self.count / self.total if self.total else None

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "total": self.total, "rate": _round(self.rate, 4)}


@dataclass(frozen=True)
class WaitStats:
    """Speed of answer: how long queued customers waited for an agent to take the chat."""

    waits: tuple[float, ...]

    @property
    def answered(self) -> int:
        return len(self.waits)

    @property
    def average(self) -> float | None:
        return float(np.mean(self.waits)) if self.waits else None

    def percentile(self, q: float) -> float | None:
        """Linear interpolation between the closest ranks (numpy's default)."""
        return float(np.percentile(self.waits, q)) if self.waits else None

    @property
    def buckets(self) -> dict[str, int]:
        """Waits per bucket; a wait on a bound belongs to the lower bucket (20 s is 0-20 s)."""
        counts = dict.fromkeys((label for label, _ in WAIT_BUCKETS), 0)
        for wait in self.waits:
            counts[next(label for label, upper in WAIT_BUCKETS if wait <= upper)] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {"answered": self.answered, "average_seconds": _round(self.average, 1),
                "p50_seconds": _round(self.percentile(50), 1),
                "p90_seconds": _round(self.percentile(90), 1), "buckets": self.buckets}


@dataclass(frozen=True)
class Day:
    date: date
    contacts: int
    handed_off: int

    @property
    def handoff_rate(self) -> float | None:
        return Ratio(self.handed_off, self.contacts).rate


# --- Metrics over the contacts of a period -------------------------------------------------

def final_owner(contact: ContactFacts) -> str:
    """``agent`` if an agent ever took the contact (an ``agent_pickup``, or ``handled_by`` is
    agent/both), else ``bot``. Each contact has exactly one final owner, so counts by owner add
    up to the contacts: a contact handed off, then handed back and finished by the bot, is an
    agent contact once, never also a bot resolution."""
    if contact.of(PICKUP) or contact.handled_by in ("agent", "both"):
        return "agent"
    return "bot"


def contacts_by_owner(contacts: list[ContactFacts]) -> dict[str, int]:
    """Contacts per final owner (bot + agent = contacts)."""
    return _count_by_owner(contacts)


def completed_by_owner(contacts: list[ContactFacts]) -> dict[str, int]:
    """Contacts with status ``completed``, per final owner."""
    return _count_by_owner(c for c in contacts if c.status == "completed")


def containment(contacts: list[ContactFacts]) -> Ratio:
    """Containment = contacts completed by the bot alone / contacts, where "by the bot alone"
    means: final owner bot, status ``completed`` and no ``handoff_requested`` at all (a
    callback offered or a failed handoff is not contained)."""
    contained = [c for c in contacts
                 if final_owner(c) == "bot" and c.status == "completed" and not c.of(HANDOFF)]
    return Ratio(len(contained), len(contacts))


def handoff_rate(contacts: list[ContactFacts]) -> Ratio:
    """Handoff rate = contacts with at least one ``handoff_requested`` (any result) / contacts."""
    return Ratio(sum(1 for c in contacts if c.of(HANDOFF)), len(contacts))


def handoff_reasons(contacts: list[ContactFacts]) -> dict[str, int]:
    """Why contacts were handed off: the detail of each contact's *first* ``handoff_requested``
    (any result; an empty detail is ``unknown``), counted, most frequent first, ties by name."""
    reasons = Counter(c.of(HANDOFF)[0].detail or "unknown" for c in contacts if c.of(HANDOFF))
    return dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0])))


def queue_outcomes(contact: ContactFacts) -> list[float | None]:
    """Each queued handoff (``handoff_requested`` success) of a contact: the seconds until an
    agent took the chat, or None if nobody did.

    A queued handoff is answered by the first ``agent_pickup`` after it, before the contact's
    next queued handoff; it is abandoned when that does not happen (an ``expired`` failure, a
    new handoff, or the contact ended). A handoff of a contact still open with no pickup yet is
    still waiting: it is left out (neither answered nor abandoned).
    """
    outcomes: list[float | None] = []
    waiting: Operation | None = None
    for op in contact.operations:
        if op.category == HANDOFF and op.result == "success":
            if waiting is not None:
                outcomes.append(None)
            waiting = op
        elif op.category == HANDOFF and op.detail == "expired" and waiting is not None:
            outcomes.append(None)
            waiting = None
        elif op.category == PICKUP and waiting is not None:
            outcomes.append((op.at - waiting.at).total_seconds())
            waiting = None
    if waiting is not None and contact.status not in OPEN_STATUSES:
        outcomes.append(None)
    return outcomes


def queue_abandonment(contacts: list[ContactFacts]) -> Ratio:
    """Abandonment in queue = queued handoffs nobody picked up / queued handoffs that ended
    (see ``queue_outcomes``; handoffs still waiting in open contacts are not counted)."""
    outcomes = [o for c in contacts for o in queue_outcomes(c)]
    return Ratio(sum(1 for o in outcomes if o is None), len(outcomes))


def speed_of_answer(contacts: list[ContactFacts]) -> WaitStats:
    """Speed of answer: for each answered queued handoff, agent_pickup.at - handoff.at in
    seconds; ASA is their mean, p50/p90 their percentiles (see ``queue_outcomes``). With one
    queued handoff per contact this is first pickup - first successful handoff_requested."""
    return WaitStats(tuple(o for c in contacts for o in queue_outcomes(c) if o is not None))


def handle_periods(contact: ContactFacts) -> list[tuple[datetime, float]]:
    """(pickup time, handle seconds) of each agent's turn with a contact.

    Pickups and releases pair in order: a release ends the open pickup (release.at -
    pickup.at); a pickup while one is open continues it; a release with no open pickup is
    ignored. A last pickup never released ends when the contact ended (ended_at - pickup.at),
    or is ignored while the contact has not ended.
    """
    periods: list[tuple[datetime, float]] = []
    picked_up: datetime | None = None
    for op in contact.operations:
        if op.category == PICKUP and picked_up is None:
            picked_up = op.at
        elif op.category == RELEASE and picked_up is not None:
            periods.append((picked_up, (op.at - picked_up).total_seconds()))
            picked_up = None
    if picked_up is not None and contact.ended_at is not None and contact.ended_at >= picked_up:
        periods.append((picked_up, (contact.ended_at - picked_up).total_seconds()))
    return periods


def handle_seconds(contacts: list[ContactFacts]) -> list[float]:
    """Average handle time (AHT) = mean of these: every agent turn (``handle_periods``)."""
    return [seconds for c in contacts for _, seconds in handle_periods(c)]


def first_contact_resolution(session: Session, contacts: list[ContactFacts]) -> Ratio:
    """First-contact resolution = completed contacts whose person (customer, else channel
    identity) started no other contact, on any channel, in [ended_at, ended_at + 7 days) /
    completed contacts.

    Later contacts are looked up past the report's ``until``: a contact that ended within 7 days
    of ``until`` still counts, judged on what is recorded so far (it may turn out unresolved).
    """
    completed = [c for c in contacts if c.status == "completed" and c.ended_at is not None]
    if not completed:
        return Ratio(0, 0)
    starts = _starts_by_person(session, min(c.ended_at for c in completed),
                               max(c.ended_at for c in completed) + REPEAT_WINDOW)
    resolved = [c for c in completed if not _came_back(c, starts.get(c.person, []))]
    return Ratio(len(resolved), len(completed))


def volume_by_hour(contacts: list[ContactFacts]) -> list[int]:
    """Contacts started in each hour of the day, 0..23 (UTC)."""
    counts = [0] * 24
    for contact in contacts:
        counts[contact.started_at.hour] += 1
    return counts


def volume_by_weekday(contacts: list[ContactFacts]) -> dict[str, int]:
    """Contacts started on each day of the week, Mon..Sun (UTC)."""
    counts = dict.fromkeys(WEEKDAYS, 0)
    for contact in contacts:
        counts[WEEKDAYS[contact.started_at.weekday()]] += 1
    return counts


def daily_handoffs(contacts: list[ContactFacts], scope: Scope) -> list[Day]:
    """Per UTC day of the period (every day, even without contacts): contacts started, and how
    many of them were handed off (as in ``handoff_rate``)."""
    started: dict[date, list[ContactFacts]] = defaultdict(list)
    for contact in contacts:
        started[contact.started_at.date()].append(contact)
    last = (scope.until - timedelta(microseconds=1)).date()
    days = [scope.since.date() + timedelta(days=n)
            for n in range((last - scope.since.date()).days + 1)]
    return [Day(d, len(started[d]), handoff_rate(started[d]).count) for d in days]


# --- Metrics counted in SQL ---------------------------------------------------------------

def unique_customers(session: Session, scope: Scope) -> int:
    """Distinct people: distinct customer_id, plus distinct identity_id of contacts without one
    (people not verified; a verified identity's contacts all carry its customer_id)."""
    customers = session.scalar(
        select(func.count(func.distinct(Contact.customer_id))).where(*scope.conditions()))
    anonymous = session.scalar(
        select(func.count(func.distinct(Contact.identity_id)))
        .where(*scope.conditions(), Contact.customer_id.is_(None)))
    return int(customers or 0) + int(anonymous or 0)


def csat_distribution(session: Session, scope: Scope) -> dict[int, int]:
    """Contacts rated 1, 2, 3, 4 and 5 (contacts without a rating are left out)."""
    rows = session.execute(
        select(Contact.csat, func.count()).where(*scope.conditions(), Contact.csat.is_not(None))
        .group_by(Contact.csat)
    ).all()
    counts = dict.fromkeys(range(1, 6), 0)
    counts.update({int(score): int(n) for score, n in rows})
    return counts


def csat_average(distribution: dict[int, int]) -> float | None:
    """CSAT = sum of ratings / number of rated contacts; None without ratings."""
    rated = sum(distribution.values())
    return sum(score * n for score, n in distribution.items()) / rated if rated else None


def top_intents(session: Session, scope: Scope, limit: int = TOP) -> list[tuple[str, int]]:
    """The most frequent intents of customer touches (None and ``nlu_fallback`` excluded), most
    frequent first, ties by name."""
    count = func.count().label("n")
    rows = session.execute(
        select(ContactTouch.intent, count)
        .join(Contact, Contact.id == ContactTouch.contact_id)
        .where(*scope.conditions(), ContactTouch.author == "customer",
               ContactTouch.intent.is_not(None), ContactTouch.intent != FALLBACK_INTENT)
        .group_by(ContactTouch.intent).order_by(count.desc(), ContactTouch.intent).limit(limit)
    ).all()
    return [(intent, int(n)) for intent, n in rows]


def top_fallback_texts(session: Session, scope: Scope, limit: int = TOP) -> list[tuple[str, int]]:
    """What customers said that the NLU did not understand (intent ``nlu_fallback``), grouped
    by lower-cased, stripped text, most frequent first, ties by text. Grouped in Python: SQL's
    lower() and trim() differ between databases beyond ASCII."""
    texts = session.scalars(
        select(ContactTouch.text).join(Contact, Contact.id == ContactTouch.contact_id)
        .where(*scope.conditions(), ContactTouch.author == "customer",
               ContactTouch.intent == FALLBACK_INTENT)
    )
    counts = Counter(text.strip().lower() for text in texts if text and text.strip())
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]


UNRECORDED_SKILL = "unknown"  # handoffs and pickups recorded before they named their skill


@dataclass
class SkillResponses:
    """One skill's agent responses against its targets (seconds): late / all first responses,
    queued customers who never got one (``unanswered``: they left, or the chat went back to the
    bot or was closed without an agent's reply), late / all next responses."""

    first_target: float
    next_target: float
    first: int = 0
    first_total: int = 0
    unanswered: int = 0
    next: int = 0
    next_total: int = 0

    @property
    def service_level(self) -> float | None:
        """Share of queued customers whose first agent reply came within the first-response
        target: on time / (first responses + unanswered). The unanswered count as offered
        and missed, as in the contact-centre service level "X% answered in Y seconds" (ICMI's
        definition, abandons in the denominator). None when nobody queued."""
        offered = self.first_total + self.unanswered
        return (self.first_total - self.first) / offered if offered else None

    def to_dict(self) -> dict[str, Any]:
        return {"first_response": {"target_seconds": self.first_target, "breaches": self.first,
                                   "responses": self.first_total},
                "next_response": {"target_seconds": self.next_target, "breaches": self.next,
                                  "responses": self.next_total},
                "unanswered": self.unanswered, "service_level": _round(self.service_level, 4)}


@dataclass(frozen=True)
class ResponseBreaches:
    """Agents' first and next responses per skill (``SkillResponses``), and their totals."""

    by_skill: dict[str, SkillResponses] = field(default_factory=dict)

    def _sum(self, name: str) -> int:
        return sum(getattr(r, name) for r in self.by_skill.values())

    @property
    def first(self) -> int:  # first responses later than their skill's target
        return self._sum("first")

    @property
    def first_total(self) -> int:
        return self._sum("first_total")

    @property
    def next(self) -> int:  # next responses later than their skill's target
        return self._sum("next")

    @property
    def next_total(self) -> int:
        return self._sum("next_total")

    def to_dict(self) -> dict[str, Any]:
        return {"first_response": {"breaches": self.first, "responses": self.first_total},
                "next_response": {"breaches": self.next, "responses": self.next_total},
                "by_skill": {skill: r.to_dict() for skill, r in sorted(self.by_skill.items())}}


def default_targets(skill: str | None) -> ServiceTarget:
    """60 s first, 120 s next for every skill: the settings' defaults."""
    return ServiceTarget()


def response_breaches(session: Session, contacts: list[ContactFacts],
                      targets: Callable[[str | None], ServiceTarget] = default_targets
                      ) -> ResponseBreaches:
    """Agents' responses against the service targets of their skill (module docstring), over
    the contacts with a queued handoff. ``targets``: a skill's (``Settings.service_target``).

    First responses: each queued handoff (``handoff_requested`` success) is open until the
    contact's next handoff operation (another queueing, an expiry) or the contact's end; the
    first agent touch inside it is its first response, breached when later than the skill's
    first target after queueing; no agent touch in a closed window is an abandon. Its skill is
    the handoff's reference (the queue it joined), else the pickup's. Next responses: agent
    touches answering a customer who wrote after the agent's previous touch (within one
    pickup-release stretch), breached when later than the next target of the skill of the
    stretch's pickup."""
    queued = {c.id: c for c in contacts
              if any(op.result == "success" for op in c.of(HANDOFF))}
    breaches = ResponseBreaches()
    if not queued:
        return breaches

    def tally(skill: str | None) -> SkillResponses:
        name = skill or UNRECORDED_SKILL
        if name not in breaches.by_skill:
            target = targets(skill)
            breaches.by_skill[name] = SkillResponses(target.first, target.next)
        return breaches.by_skill[name]

    said: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for contact_id, author, at in session.execute(
            select(ContactTouch.contact_id, ContactTouch.author, ContactTouch.at)
            .where(ContactTouch.contact_id.in_(list(queued)),
                   ContactTouch.author.in_(("customer", "agent")))
            .order_by(ContactTouch.contact_id, ContactTouch.at, ContactTouch.id)):
        said[contact_id].append((_naive(at), author))
    for contact_id, contact in queued.items():
        _first_responses(contact, said[contact_id], tally)
        _next_responses(contact, said[contact_id], tally)
    return breaches


def _first_responses(contact: ContactFacts, touches: list[tuple[datetime, str]],
                     tally: Callable[[str | None], SkillResponses]) -> None:
    handoffs = contact.of(HANDOFF)
    pickups = contact.of(PICKUP)
    for i, queued in enumerate(handoffs):
        if queued.result != "success":
            continue
        start = _naive(queued.at)
        end = _window_end(contact, start, handoffs[i + 1] if i + 1 < len(handoffs) else None)
        reply = next((at for at, author in touches
                      if author == "agent" and at >= start and (end is None or at < end)), None)
        pickup = next((op for op in pickups if _naive(op.at) >= start), None)
        skills = tally(queued.reference or (pickup.reference if pickup else None))
        if reply is not None:
            skills.first_total += 1
            skills.first += (reply - start).total_seconds() > skills.first_target
        elif end is not None:
            skills.unanswered += 1


def _window_end(contact: ContactFacts, start: datetime, following: Operation | None
                 ) -> datetime | None:
    """When a queued customer stopped waiting for a first reply: the next handoff operation
    (queued again, expired), the chat going back to the bot or closed (a release other than a
    transfer or a requeue, which keep them waiting), or the contact's end; None: still waiting."""
    ends = [_naive(op.at) for op in contact.of(RELEASE) if _naive(op.at) >= start
            and not any(kept in op.detail for kept in ("transferred to", "requeued"))]
    if following is not None:
        ends.append(_naive(following.at))
    if contact.ended_at is not None:
        ends.append(_naive(contact.ended_at))
    return min(ends, default=None)


def _next_responses(contact: ContactFacts, touches: list[tuple[datetime, str]],
                    tally: Callable[[str | None], SkillResponses]) -> None:
    releases = sorted(_naive(op.at) for op in contact.of(RELEASE))
    pickups = [(_naive(op.at), op.reference) for op in contact.of(PICKUP)]
    replied, waiting_since, stretch = False, None, 0
    for at, author in touches:
        now_stretch = bisect.bisect_right(releases, at)
        if now_stretch != stretch:  # released in between: a new pickup starts afresh
            replied, waiting_since, stretch = False, None, now_stretch
        if author == "agent":
            if replied and waiting_since is not None:
                skill = next((ref for when, ref in reversed(pickups) if when <= at), None)
                skills = tally(skill)
                skills.next_total += 1
                skills.next += (at - waiting_since).total_seconds() > skills.next_target
            replied, waiting_since = True, None
        elif replied and waiting_since is None:
            waiting_since = at


def skill_responses(session: Session, since: datetime, until: datetime,
                    targets: Callable[[str | None], ServiceTarget] = default_targets
                    ) -> dict[str, SkillResponses]:
    """Per skill, the responses of the contacts started in ``[since, until)`` (the supervisor
    board's "service level today"), without the rest of the report."""
    contacts = load_contacts(session, _scope(since, until, None).conditions())
    return response_breaches(session, contacts, targets).by_skill


def _naive(at: datetime) -> datetime:
    """Naive UTC (SQLite hands back naive datetimes, PostgreSQL aware ones)."""
    return as_utc(at).replace(tzinfo=None)


# --- The report ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Report:
    """Every metric of one period; ``build_report`` makes it, ``to_dict`` serialises it."""

    scope: Scope
    contacts: int
    unique_customers: int
    contacts_by_owner: dict[str, int]
    completed_by_owner: dict[str, int]
    containment: Ratio
    handoff: Ratio
    handoff_reasons: dict[str, int]
    queue_abandonment: Ratio
    speed_of_answer: WaitStats
    handle_seconds: tuple[float, ...]
    first_contact_resolution: Ratio
    csat_distribution: dict[int, int]
    top_intents: list[tuple[str, int]]
    top_fallback_texts: list[tuple[str, int]]
    volume_by_hour: list[int]
    volume_by_weekday: dict[str, int]
    daily: list[Day]
    response_breaches: ResponseBreaches = field(default_factory=ResponseBreaches)

    @property
    def average_handle_seconds(self) -> float | None:
        return float(np.mean(self.handle_seconds)) if self.handle_seconds else None

    @property
    def csat_average(self) -> float | None:
        return csat_average(self.csat_distribution)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; rates rounded to 4 decimals, seconds to 0.1 s, times ISO with ``Z``."""
        owners = {owner: {"contacts": self.contacts_by_owner[owner],
                          "completed": self.completed_by_owner[owner]}
                  for owner in ("bot", "agent")}
        return {
            "since": _iso(self.scope.since), "until": _iso(self.scope.until),
            "channel": self.scope.channel,
            "contacts": self.contacts, "unique_customers": self.unique_customers,
            "final_owner": owners,
            "containment": self.containment.to_dict(),
            "handoff": self.handoff.to_dict(),
            "handoff_reasons": self.handoff_reasons,
            "queue_abandonment": self.queue_abandonment.to_dict(),
            "speed_of_answer": self.speed_of_answer.to_dict(),
            "handle_time": {"handles": len(self.handle_seconds),
                            "average_seconds": _round(self.average_handle_seconds, 1)},
            "first_contact_resolution": self.first_contact_resolution.to_dict(),
            "csat": {"responses": sum(self.csat_distribution.values()),
                     "average": _round(self.csat_average, 2),
                     "distribution": {str(k): n for k, n in self.csat_distribution.items()}},
            "top_intents": [{"intent": i, "count": n} for i, n in self.top_intents],
            "top_fallback_texts": [{"text": t, "count": n} for t, n in self.top_fallback_texts],
            "volume_by_hour": self.volume_by_hour,
            "volume_by_weekday": self.volume_by_weekday,
            "daily": [{"date": d.date.isoformat(), "contacts": d.contacts,
                       "handed_off": d.handed_off, "handoff_rate": _round(d.handoff_rate, 4)}
                      for d in self.daily],
            "response_breaches": self.response_breaches.to_dict(),
        }


def build_report(
    session: Session, since: datetime, until: datetime, channel: str | None = None,
    targets: Callable[[str | None], ServiceTarget] = default_targets,
) -> Report:
    """The service report of the contacts started in ``[since, until)`` (on ``channel``);
    responses are judged against their skill's targets (``Settings.service_target``)."""
    scope = _scope(since, until, channel)
    contacts = load_contacts(session, scope.conditions())
    return Report(
        scope=scope,
        contacts=len(contacts),
        unique_customers=unique_customers(session, scope),
        contacts_by_owner=contacts_by_owner(contacts),
        completed_by_owner=completed_by_owner(contacts),
        containment=containment(contacts),
        handoff=handoff_rate(contacts),
        handoff_reasons=handoff_reasons(contacts),
        queue_abandonment=queue_abandonment(contacts),
        speed_of_answer=speed_of_answer(contacts),
        handle_seconds=tuple(handle_seconds(contacts)),
        first_contact_resolution=first_contact_resolution(session, contacts),
        csat_distribution=csat_distribution(session, scope),
        top_intents=top_intents(session, scope),
        top_fallback_texts=top_fallback_texts(session, scope),
        volume_by_hour=volume_by_hour(contacts),
        volume_by_weekday=volume_by_weekday(contacts),
        daily=daily_handoffs(contacts, scope),
        response_breaches=response_breaches(session, contacts, targets),
    )


# --- For the capacity planner: selected by when the work happened --------------------------

def handoff_arrivals(
    session: Session, since: datetime, until: datetime, channel: str | None = None
) -> list[datetime]:
    """Arrivals to the human queue: the time of each successful ``handoff_requested`` whose own
    time is in ``[since, until)`` (whenever its contact started), oldest first."""
    since, until = as_utc(since), as_utc(until)
    query = (
        select(ContactOperation.at).join(Contact, Contact.id == ContactOperation.contact_id)
        .where(ContactOperation.category == HANDOFF, ContactOperation.result == "success",
               ContactOperation.at >= since, ContactOperation.at < until)
        .order_by(ContactOperation.at, ContactOperation.id)
    )
    if channel is not None:
        query = query.where(Contact.channel == channel)
    return list(session.scalars(query))


def agent_handle_seconds(session: Session, since: datetime, until: datetime) -> list[float]:
    """Handle time of each agent turn (``handle_periods``, as for AHT) whose pickup is in
    ``[since, until)``, ordered by pickup time."""
    since, until = as_utc(since), as_utc(until)
    picked_up = select(ContactOperation.contact_id).where(
        ContactOperation.category == PICKUP, ContactOperation.at >= since,
        ContactOperation.at < until)
    contacts = load_contacts(session, [Contact.id.in_(picked_up)])
    periods = sorted(period for c in contacts for period in handle_periods(c)
                     if since <= period[0] < until)
    return [seconds for _, seconds in periods]


# --- Helpers ------------------------------------------------------------------------------

def _scope(since: datetime, until: datetime, channel: str | None) -> Scope:
    since, until = as_utc(since), as_utc(until)
    if since >= until:
        raise ReportError(f"the period is empty: since {_iso(since)} is not before until "
                          f"{_iso(until)}")
    return Scope(since, until, channel)


def _count_by_owner(contacts: Iterable[ContactFacts]) -> dict[str, int]:
    counts = {"bot": 0, "agent": 0}
    for contact in contacts:
        counts[final_owner(contact)] += 1
    return counts


def _starts_by_person(
    session: Session, start: datetime, end: datetime
) -> dict[tuple[str, int], list[tuple[datetime, int]]]:
    """(started_at, id) of every contact started in ``[start, end)``, per person, sorted."""
    rows = session.execute(
        select(Contact.id, Contact.started_at, Contact.customer_id, Contact.identity_id)
        .where(Contact.started_at >= start, Contact.started_at < end)
        .order_by(Contact.started_at, Contact.id)
    ).all()
    starts: dict[tuple[str, int], list[tuple[datetime, int]]] = defaultdict(list)
    for contact_id, started_at, customer_id, identity_id in rows:
        person = ("customer", customer_id) if customer_id is not None else ("identity",
                                                                             identity_id)
        starts[person].append((started_at, contact_id))
    return starts


def _came_back(contact: ContactFacts, starts: list[tuple[datetime, int]]) -> bool:
    """Whether the same person started another contact in [ended_at, ended_at + 7 days)."""
    first = bisect.bisect_left(starts, (contact.ended_at, -1))
    return any(started < contact.ended_at + REPEAT_WINDOW and contact_id != contact.id
               for started, contact_id in starts[first:])


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds") + "Z"
