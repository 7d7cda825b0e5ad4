"""What an agent does at the console: set their status, take a chat (next, or one picked from
the queue), reply (typed or canned), note, transfer, return to the bot, close. Every form is
CSRF-checked and every chat action checks the agent owns the chat."""

from __future__ import annotations

import functools
import time
import urllib.parse
from collections.abc import Awaitable, Callable

from sanic import Request, response
from sanic.response import HTTPResponse

from bot.channels.registry import NoOutboundChannel, output_for
from contacts import events, service
from handoff import customer, presence, queue, tracker
from handoff.canned import canned_answers
from handoff.console import blueprint
from handoff.console.auth import agent_record, csrf_ok, current_agent, in_thread
from handoff.console.pages import chat_url, owns
from handoff.models import Agent
from handoff.worker import notify_agent
from switchboard.log import get_logger

log = get_logger(__name__)

BACK_TO_BOT = "You're back with the Kestrel Mobile assistant. What else can I do for you?"
TRANSFERRED = "I'm passing you to a colleague who can help with this; please stay with us."
CLOSED = "Thanks for talking to us. This conversation is now closed; write again any time."
CSAT_QUESTION = ("How happy are you with the help you got today? Reply with a number from 1 "
                 "(not at all) to 5 (very).")
CSAT_WINDOW_SECONDS = 3600
MAX_TEXT = 2000

Handler = Callable[..., Awaitable[HTTPResponse]]


def form_checked(handler: Handler) -> Handler:
    """Refuse a form without the session's CSRF token."""
    @functools.wraps(handler)
    async def checked(request: Request, *args, **kwargs) -> HTTPResponse:
        if not csrf_ok(request):
            return response.text("The form expired: reload the page.", status=403)
        return await handler(request, *args, **kwargs)
    return checked


def own_chat(handler: Handler) -> Handler:
    """Refuse a chat action on a chat the agent does not hold (after the CSRF check)."""
    @functools.wraps(handler)
    async def owned(request: Request, sender_id: str) -> HTTPResponse:
        sender_id = urllib.parse.unquote(sender_id)
        if not await owns(request, sender_id):
            return response.text("This conversation is not yours.", status=403)
        return await handler(request, sender_id)
    return form_checked(owned)


@blueprint.post("/status")
@form_checked
async def set_status(request: Request) -> HTTPResponse:
    status = request.form.get("status") or ""
    if status not in ("online", "away"):
        return response.text("Choose online or away (log out to go offline).", status=400)
    agent = await agent_record(request)
    await in_thread(presence.set_status, request.app.ctx.services.redis, agent.id, status,
                    agent.skill_list, agent.capacity)
    return response.redirect("/console/")


@blueprint.post("/take")
@form_checked
async def take_next(request: Request) -> HTTPResponse:
    """"Take next": the oldest highest-priority conversation of the agent's skills."""
    agent = await agent_record(request)
    taken = await in_thread(queue.claim_next, request.app.ctx.services.redis, agent.id,
                            agent.skill_list, agent.capacity)
    if taken is None:
        return response.redirect("/console/?empty=1")
    await customer.joined(request.app.ctx.settings, taken, agent)
    return response.redirect(chat_url(taken))


@blueprint.post("/pick")
@form_checked
async def pick(request: Request) -> HTTPResponse:
    """Take one conversation chosen from the queue, if it is still waiting for this agent."""
    agent = await agent_record(request)
    sender_id = request.form.get("sender_id") or ""
    client = request.app.ctx.services.redis
    handoff = await in_thread(queue.record, client, sender_id)
    if handoff is None or handoff.skill not in agent.skill_list:
        return response.text("That conversation is not waiting for your skills.", status=409)
    if not await in_thread(queue.claim, client, agent.id, sender_id, agent.capacity):
        return response.text("Someone took it first, or you are at your capacity.", status=409)
    await customer.joined(request.app.ctx.settings, sender_id, agent)
    return response.redirect(chat_url(sender_id))


@blueprint.post("/chat/<sender_id>/reply")
@own_chat
async def reply(request: Request, sender_id: str) -> HTTPResponse:
    """Send the typed text, or the chosen canned answer when nothing is typed."""
    text = (request.form.get("text") or "").strip()
    canned = request.form.get("canned") or ""
    if not text and canned:
        text = canned_answers().get(canned, "")
    if not text or len(text) > MAX_TEXT:
        return response.text(f"Write 1 to {MAX_TEXT} characters, or choose a canned answer.",
                             status=400)
    try:
        output_for(sender_id, request.app.ctx.settings)
    except NoOutboundChannel:
        return response.text(
            "This customer came through an integration (the REST channel), which only gets "
            "answers within its own requests: a reply cannot be sent to them. Add a note for "
            "the record, or return the conversation to the bot.", status=409)
    agent_id = current_agent(request)
    await customer.tell(request.app.ctx.settings, sender_id, text, agent=agent_id)
    await in_thread(queue.agent_answered, request.app.ctx.services.redis, sender_id)
    return response.redirect(chat_url(sender_id))


@blueprint.post("/chat/<sender_id>/note")
@own_chat
async def note(request: Request, sender_id: str) -> HTTPResponse:
    """An internal note: in the contact record for colleagues, never sent to the customer."""
    text = (request.form.get("text") or "").strip()
    if not text or len(text) > MAX_TEXT:
        return response.text(f"Write 1 to {MAX_TEXT} characters.", status=400)
    events.publish(request.app.ctx.services.redis, {
        "event": "note", "sender_id": sender_id, "text": text, "agent": current_agent(request),
        "timestamp": time.time()})
    return response.redirect(chat_url(sender_id))


@blueprint.post("/chat/<sender_id>/transfer")
@own_chat
async def transfer(request: Request, sender_id: str) -> HTTPResponse:
    """To another skill's queue (at its front) or straight to a colleague with room."""
    kind, _, target = (request.form.get("to") or "").partition(":")
    client, agent_id = request.app.ctx.services.redis, current_agent(request)
    if kind == "skill" and target in queue.SKILLS:
        moved = await in_thread(queue.transfer, client, agent_id, sender_id, target)
    elif kind == "agent":
        colleague = await in_thread(_agent, request.app.ctx.db, target)
        moved = colleague is not None and await in_thread(
            queue.transfer_to_agent, client, agent_id, sender_id, colleague.id,
            colleague.capacity)
        if moved:
            await notify_agent(request.app.ctx.settings, colleague.id,
                               {"kind": "assigned", "sender_id": sender_id})
            await customer.left(request.app.ctx.settings, sender_id,
                                await agent_record(request), "agent")
            await customer.joined(request.app.ctx.settings, sender_id, colleague)
    else:
        return response.text("Choose a queue or a colleague from the list.", status=400)
    if not moved:
        return response.text("That colleague has no room now; choose another.", status=409)
    if kind == "skill":
        await customer.left(request.app.ctx.settings, sender_id,
                            await agent_record(request), "queue")
    await customer.tell(request.app.ctx.settings, sender_id, TRANSFERRED)
    return response.redirect("/console/")


def _agent(db, agent_id: str) -> Agent | None:
    with db.reading() as session:
        agent = session.get(Agent, agent_id)
        return agent if agent is not None and agent.active else None


@blueprint.post("/chat/<sender_id>/return")
@own_chat
async def return_to_bot(request: Request, sender_id: str) -> HTTPResponse:
    await _release(request, sender_id, "returned")
    await customer.left(request.app.ctx.settings, sender_id,
                        await agent_record(request), "assistant")
    events.publish(request.app.ctx.services.redis, {"event": "handback", "sender_id": sender_id,
                                                    "timestamp": time.time()})
    await customer.tell(request.app.ctx.settings, sender_id, BACK_TO_BOT)
    return response.redirect("/console/")


@blueprint.post("/chat/<sender_id>/close")
@own_chat
async def close(request: Request, sender_id: str) -> HTTPResponse:
    """End the contact with a disposition code, optionally asking for a rating; the customer's
    next message (other than a rating) starts a new contact with the bot."""
    disposition = request.form.get("disposition") or ""
    if disposition not in await in_thread(_disposition_codes, request.app.ctx.db):
        return response.text("Choose a disposition code from the list.", status=400)
    settings, client = request.app.ctx.settings, request.app.ctx.services.redis
    await _release(request, sender_id, f"closed {disposition}")
    await customer.left(settings, sender_id, await agent_record(request), "assistant")
    await customer.tell(settings, sender_id, CLOSED)
    events.publish(client, {"event": "close", "sender_id": sender_id,
                            "timestamp": time.time(), "disposition": disposition})
    if request.form.get("csat"):
        await in_thread(queue.await_answer, client, sender_id, queue.AWAITING_CSAT,
                        CSAT_WINDOW_SECONDS)
        await customer.tell(settings, sender_id, CSAT_QUESTION)
    return response.redirect("/console/")


async def _release(request: Request, sender_id: str, why: str) -> None:
    """The chat leaves the agent and the queue; the bot's tracker is live again."""
    await in_thread(queue.return_to_bot, request.app.ctx.services.redis,
                    current_agent(request), sender_id, why)
    await tracker.resume(sender_id, request.app.ctx.settings)


def _disposition_codes(db) -> set[str]:
    with db.reading() as session:
        return {row["code"] for row in service.contact_configuration(session)["disposition_codes"]}
