"""Podio's error bodies mapped to our exception classes: the one place for that rule."""

from __future__ import annotations

import re
from typing import Any

import requests

from .. import exceptions as exc
from ..redaction import redact

_WAIT = re.compile(r"wait\s+(\d+)\s+second", re.IGNORECASE)


def _body(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _text(value: Any, limit: int = 300) -> str | None:
    if value is None or value == "":
        return None
    return redact(str(value))[:limit]


def wait_seconds(response: requests.Response) -> int | None:
    """Seconds Podio asks us to wait: from "Please wait N seconds", else ``Retry-After``."""
    description = str(_body(response).get("error_description") or "")
    match = _WAIT.search(description)
    if match:
        return int(match.group(1))
    retry_after = response.headers.get("Retry-After", "")
    return int(retry_after) if retry_after.isdigit() else None


def error_from_response(response: requests.Response, method: str, path: str) -> exc.PodioAPIError:
    body = _body(response)
    status = response.status_code
    error = _text(body.get("error"), 80)
    description = _text(body.get("error_description"))
    fields = {
        "status": status,
        "error": error,
        "description": description if body else "non-JSON error body",
        "detail": _text(body.get("error_detail")),
        "request_id": _text(response.headers.get("X-Podio-Request-Id"), 80),
        "method": method,
        "path": path,
    }
    if status == 400 and error == "invalid_grant":
        return exc.InvalidGrant(**fields)
    if status == 401:
        challenge = response.headers.get("WWW-Authenticate", "")
        if "expired_token" in (error, description) or "expired_token" in challenge:
            return exc.TokenExpired(**fields)
        return exc.InvalidToken(**fields)
    if status == 403:
        return exc.Forbidden(**fields)
    if status == 404:
        return exc.NotFound(**fields)
    if status == 410:
        return exc.Gone(**fields)
    if status in (420, 429):
        return exc.RateLimited(wait_seconds=wait_seconds(response), **fields)
    if status >= 500:
        return exc.ServerError(**fields)
    return exc.PodioAPIError(**fields)
