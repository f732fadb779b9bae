"""Podio's error bodies mapped to our exception classes: the one place for that rule."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from .. import exceptions as exc
from ..redaction import redact

_WAIT = re.compile(r"wait\s+(\d+)\s+second", re.IGNORECASE)
# Podio counts calls per hour: waiting longer than that is never needed.
RATE_LIMIT_WINDOW = 3600


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
    """Seconds Podio asks us to wait, or ``None`` when the answer does not say.

    Read from Podio's "Please wait N seconds", else from ``Retry-After`` (seconds or an HTTP
    date, as a proxy in front of Podio may send). The value is clamped to
    ``1 <= seconds <= RATE_LIMIT_WINDOW``: "0 seconds" (or a date in the past) would make a
    caller that waits and retries spin, and no honest wait exceeds Podio's one-hour window
    (a huge number would overflow a caller's ``timedelta``). A negative or non-numeric value
    is not a wait at all.
    """
    description = str(_body(response).get("error_description") or "")
    match = _WAIT.search(description)
    if match:
        return _clamp(int(match.group(1)))
    retry_after = (response.headers.get("Retry-After") or "").strip()
    if retry_after.isdigit():
        return _clamp(int(retry_after))
    if retry_after and not retry_after.lstrip("+-").replace(".", "", 1).isdigit():
        try:
            when = parsedate_to_datetime(retry_after)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            return None
        return _clamp(math.ceil((when - datetime.now(UTC)).total_seconds()))
    return None


def _clamp(seconds: int) -> int:
    return max(1, min(seconds, RATE_LIMIT_WINDOW))


def error_from_response(response: requests.Response, method: str, path: str) -> exc.PodioAPIError:
    body = _body(response)
    status = response.status_code
    error = _text(body.get("error"), 80)
    description = _text(body.get("error_description"))
    fields: dict[str, Any] = {
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
    if status == 409:
        return exc.Conflict(**fields)
    if status == 410:
        return exc.Gone(**fields)
    if status in (420, 429):
        return exc.RateLimited(wait_seconds=wait_seconds(response), **fields)
    if status >= 500:
        return exc.ServerError(**fields)
    return exc.PodioAPIError(**fields)
