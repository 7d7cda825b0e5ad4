"""Small clients the tests use to talk to a running stack."""

from __future__ import annotations

import json
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
