"""Telegram Bot API objects as Telegram sends them, with every field a real client fills
(core.telegram.org/bots/api: Update, Message, User, Chat, MessageEntity, CallbackQuery,
ChatMemberUpdated, PhotoSize, Sticker, Voice, Location, Contact, ...). Optional fields are left
out when empty, as Telegram does.

Ids are Bot API dialog ids (core.telegram.org/api/bots/ids): a user and their private chat share a
positive id, a basic group is negative, a supergroup is -100.... Entity offsets and lengths count
UTF-16 code units, as the Bot API does.
"""

from __future__ import annotations

import itertools
import random
import re
import time
from typing import Any

from tests.fakes import FAKE_BOT_ID, FAKE_BOT_USERNAME

_update_ids = itertools.count(random.randrange(10**6, 10**8))
_message_ids = itertools.count(random.randrange(1, 10**5))

BOT_USER = {"id": FAKE_BOT_ID, "is_bot": True, "first_name": "Kestrel",
            "username": FAKE_BOT_USERNAME}

# What Telegram marks in a text by itself (MessageEntity types).
_ENTITIES = [("bot_command", r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{5,32})?"),
             ("mention", r"(?<!\S)@[A-Za-z0-9_]{5,32}"),
             ("phone_number", r"\+?\d[\d ]{8,}\d"),
             ("url", r"https?://\S+")]


def new_id() -> int:
    return random.randrange(10**8, 10**10)


# --- Who and where ---

def person(user_id: int | None = None, first_name: str = "Amira", last_name: str = "Haddad",
           username: str | None = "amira_h", language_code: str = "en") -> dict[str, Any]:
    user = {"id": user_id or new_id(), "is_bot": False, "first_name": first_name,
            "last_name": last_name, "language_code": language_code}
    if username:
        user["username"] = username
    return user


def private_chat(user: dict[str, Any]) -> dict[str, Any]:
    chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    for key in ("last_name", "username"):
        if key in user:
            chat[key] = user[key]
    return chat


def group(title: str = "Haddad family") -> dict[str, Any]:
    return {"id": -random.randrange(10**8, 10**10), "type": "group", "title": title}


def supergroup(title: str = "Leeds Kestrel users",
               username: str | None = "leeds_kestrel") -> dict[str, Any]:
    chat = {"id": -(10**12 + random.randrange(10**9, 10**10)), "type": "supergroup",
            "title": title}
    if username:
        chat["username"] = username
    return chat


# --- Messages ---

def message(chat: dict[str, Any], sender: dict[str, Any], **content: Any) -> dict[str, Any]:
    """A Message in ``chat`` from ``sender`` with ``content`` (``text=``, ``photo=``, ...)."""
    return {"message_id": next(_message_ids), "from": sender, "chat": chat,
            "date": int(time.time()), **content}


def text(value: str) -> dict[str, Any]:
    """Message content: ``text`` and the ``entities`` Telegram marks in it."""
    content: dict[str, Any] = {"text": value}
    entities = _entities(value)
    if entities:
        content["entities"] = entities
    return content


def _entities(value: str) -> list[dict[str, Any]]:
    found = []
    for kind, pattern in _ENTITIES:
        for match in re.finditer(pattern, value):
            found.append({"offset": _utf16(value[:match.start()]), "length": _utf16(match[0]),
                          "type": kind})
    return sorted(found, key=lambda e: e["offset"])


def _utf16(value: str) -> int:
    return len(value.encode("utf-16-le")) // 2


def photo(caption: str | None = None) -> dict[str, Any]:
    """An array of PhotoSize, smallest first, as Telegram sends a photo."""
    unique = f"AQAD{random.randrange(10**6)}"
    sizes = [(90, 67, 1322), (320, 240, 16004), (800, 600, 65431), (1280, 960, 131852)]
    content: dict[str, Any] = {"photo": [
        {"file_id": f"AgACAgQAAxkBAAI{unique}{i}", "file_unique_id": f"{unique}{i}",
         "file_size": size, "width": width, "height": height}
        for i, (width, height, size) in enumerate(sizes)]}
    if caption:
        content["caption"] = caption
    return content


def sticker() -> dict[str, Any]:
    return {"sticker": {
        "file_id": "CAACAgIAAxkBAAIBY2Zx", "file_unique_id": "AgADwQADVp29Cg", "type": "regular",
        "width": 512, "height": 512, "is_animated": True, "is_video": False, "emoji": "👍",
        "set_name": "HotCherry", "file_size": 28671,
        "thumbnail": {"file_id": "AAMCAgADGQEAAgFjZn", "file_unique_id": "AQADwQADVp29Cny",
                      "file_size": 5324, "width": 128, "height": 128}}}


def voice(seconds: int = 4) -> dict[str, Any]:
    return {"voice": {"file_id": "AwACAgQAAxkBAAIBZGZx", "file_unique_id": "AgADqhMAAp",
                      "duration": seconds, "mime_type": "audio/ogg", "file_size": 14208}}


def location(latitude: float = 53.7997, longitude: float = -1.5492) -> dict[str, Any]:
    return {"location": {"latitude": latitude, "longitude": longitude,
                         "horizontal_accuracy": 12.5}}


def document() -> dict[str, Any]:
    return {"document": {"file_id": "BQACAgQAAxkBAAIBZWZx", "file_unique_id": "AgADrBMAAp",
                         "file_name": "bill-2025-10.pdf", "mime_type": "application/pdf",
                         "file_size": 84231}}


def contact(phone_number: str, first_name: str, user_id: int | None = None,
            last_name: str | None = None) -> dict[str, Any]:
    """A shared contact; ``user_id`` is set by Telegram when the number is a Telegram user's."""
    card: dict[str, Any] = {"phone_number": phone_number, "first_name": first_name}
    if last_name:
        card["last_name"] = last_name
    if user_id is not None:
        card["user_id"] = user_id
    card["vcard"] = (f"BEGIN:VCARD\nVERSION:3.0\nFN:{first_name} {last_name or ''}\n"
                     f"TEL;MOBILE:{phone_number}\nEND:VCARD")
    return {"contact": card}


def members_joined(*members: dict[str, Any]) -> dict[str, Any]:
    """A service message: people added to a group."""
    return {"new_chat_members": list(members), "new_chat_member": members[0],
            "new_chat_participant": members[0]}


def bot_message(chat: dict[str, Any], value: str,
                reply_markup: dict[str, Any] | None = None) -> dict[str, Any]:
    """A message the bot sent (as a callback query or a reply carries it)."""
    sent = message(chat, BOT_USER, text=value)
    if reply_markup:
        sent["reply_markup"] = reply_markup
    return sent


# --- Updates ---

def update(**kind: Any) -> dict[str, Any]:
    """An Update: a fresh ``update_id`` and exactly one kind (``message=``, ...)."""
    return {"update_id": next(_update_ids), **kind}


def message_update(chat: dict[str, Any], sender: dict[str, Any], **content: Any) -> dict[str, Any]:
    return update(message=message(chat, sender, **content))


def text_update(chat: dict[str, Any], sender: dict[str, Any], value: str,
                reply_to: dict[str, Any] | None = None) -> dict[str, Any]:
    sent = message(chat, sender, **text(value))
    if reply_to is not None:
        sent["reply_to_message"] = reply_to
    return update(message=sent)


def edited(original: dict[str, Any], value: str) -> dict[str, Any]:
    """The ``edited_message`` update of an earlier message update: the same message, new text."""
    before = original["message"]
    after = {k: v for k, v in before.items() if k not in ("text", "entities")}
    return update(edited_message={**after, **text(value), "edit_date": int(time.time())})


def callback(sender: dict[str, Any], pressed_on: dict[str, Any], data: str) -> dict[str, Any]:
    """A press of an inline button of the bot's message ``pressed_on``."""
    return update(callback_query={
        "id": str(random.randrange(10**17, 10**18)), "from": sender, "message": pressed_on,
        "chat_instance": str(random.randrange(-(10**18), 10**18)), "data": data})


def my_chat_member(chat: dict[str, Any], sender: dict[str, Any], old: str,
                   new: str) -> dict[str, Any]:
    """The bot's own membership changed, e.g. ``member`` -> ``kicked``: a user blocked it."""
    return update(my_chat_member={
        "chat": chat, "from": sender, "date": int(time.time()),
        "old_chat_member": _member(old), "new_chat_member": _member(new)})


def _member(status: str) -> dict[str, Any]:
    """ChatMember of the bot; a ban (``kicked``) carries ``until_date``, 0 meaning forever."""
    member: dict[str, Any] = {"user": BOT_USER, "status": status}
    if status == "kicked":
        member["until_date"] = 0
    return member
