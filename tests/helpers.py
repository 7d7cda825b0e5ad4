"""Small clients the tests use to talk to a running stack."""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


def post_json(url: str, payload: dict[str, Any], token: str | None = None) -> Any:
    if token:
        url += ("&" if "?" in url else "?") + f"token={token}"
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def http(method: str, url: str, body: Any = None, token: str | None = None,
         raw: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One HTTP call; returns the status and the decoded JSON body, also for 4xx/5xx answers."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def http_form(url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
    """POST a form (application/x-www-form-urlencoded, as Twilio does); status and body text."""
    data = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


_NUMBERS = iter(random.Random().sample(range(10**5), 10**5))


def fresh_msisdn() -> str:
    """A UK test number (447700 9xxxxx) no other test of this run got: drawn without repeats
    (random draws collided about once a run: UNIQUE constraint failed: account.msisdn)."""
    return f"4477009{next(_NUMBERS):05d}"
