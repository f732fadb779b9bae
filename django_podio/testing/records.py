"""The fake's records (people, apps, items, credentials, logged requests) and small helpers.

Plain data and pure functions: the state classes in :mod:`.state` and its parts hold these.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

try:  # tzdata may be missing on minimal systems; then "local" time is UTC.
    from zoneinfo import ZoneInfo

    LOCAL_TZ: Any = ZoneInfo("Europe/Copenhagen")
except Exception:  # pragma: no cover - depends on the host
    LOCAL_TZ = UTC

TS_FORMAT = "%Y-%m-%d %H:%M:%S"
CODE_TTL = 600
REFRESH_TTL = 28 * 24 * 3600
HOUR = 3600

# Prefixes make each kind of secret recognisable at a glance in a leak report, while keeping
# the "long run of letters and digits" shape of the real ones.
ACCESS_PREFIX = "fpaccess"
REFRESH_PREFIX = "fprefresh"
CODE_PREFIX = "fpcode"
APP_TOKEN_PREFIX = "fpapptok"  # noqa: S105 - a prefix, not a secret


class ApiError(Exception):
    """A Podio error answer; the server turns it into Podio's error envelope."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        *,
        headers: dict[str, str] | None = None,
        detail: Any = None,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description
        self.headers = headers or {}
        self.detail = detail
        self.parameters = parameters or {}


def make_secret(prefix: str, length: int) -> str:
    return prefix + secrets.token_hex(length // 2 + 1)[: length - len(prefix)]


def fmt_ts(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime(TS_FORMAT)


def parse_ts(value: Any, *, end_of_day: bool = False) -> int:
    """Podio filter/date input: "YYYY-MM-DD HH:MM:SS" or a bare date (whole day)."""
    if not isinstance(value, str):
        raise ValueError(value)
    text = value.strip().replace("T", " ")
    if len(text) == 10:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
        if end_of_day:
            day += timedelta(days=1, seconds=-1)
        return int(day.timestamp())
    return int(datetime.strptime(text[:19], TS_FORMAT).replace(tzinfo=UTC).timestamp())


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


@dataclass
class FakeUser:
    user_id: int
    mail: str
    name: str
    password: str
    profile_id: int
    created_on: float = 0.0


@dataclass
class FakeSpace:
    space_id: int
    org_id: int
    name: str


@dataclass
class FakeOrg:
    org_id: int
    name: str
    space_ids: list[int] = field(default_factory=list)


@dataclass
class FakeItem:
    item_id: int
    app_id: int
    app_item_id: int
    external_id: str | None
    values: dict[str, list[Any]]
    created_on: int
    created_by: tuple[str, int]
    last_edit_on: int
    revision: int = 0
    tags: list[str] = field(default_factory=list)
    #: external id -> the revision that last changed the field (for 409 conflicts).
    field_revisions: dict[str, int] = field(default_factory=dict)


@dataclass
class FakeApp:
    app_id: int
    name: str
    space_id: int
    app_token: str
    fields: list[dict[str, Any]]
    item_name: str = "Item"
    items: dict[int, FakeItem] = field(default_factory=dict, repr=False)
    next_app_item_id: int = 1


@dataclass
class AccessToken:
    token: str
    client_id: str
    ref_type: str
    ref_id: int
    scope: str
    issued_at: float
    expires_at: float
    expired: bool = False
    revoked: bool = False  # its app token was rotated with revoke_tokens


@dataclass
class RefreshToken:
    token: str
    client_id: str
    ref_type: str
    ref_id: int
    scope: str
    issued_at: float
    expires_at: float
    used: bool = False
    revoked: bool = False


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    user_id: int
    scope: str
    issued_at: float
    expires_at: float
    used: bool = False
    code_challenge: str = ""  # PKCE (RFC 7636), when the authorize request carried one
    code_challenge_method: str = ""


def pkce_matches(code: AuthCode, verifier: str) -> bool:
    """RFC 7636 §4.6: S256 compares BASE64URL(SHA256(verifier)); plain (the default) as is."""
    if not verifier:
        return False
    method = code.code_challenge_method or "plain"
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    elif method == "plain":
        expected = verifier
    else:
        return False
    return hmac.compare_digest(expected.encode(), code.code_challenge.encode())


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    json: Any
    form: dict[str, str] | None
    status: int
    time: float
    client_address: tuple[str, int] | None = None


class Headers(dict):
    """Recorded headers keep the sender's spelling but look up like HTTP: case-insensitively."""

    def _key(self, key: object) -> object:
        if isinstance(key, str) and not dict.__contains__(self, key):
            for existing in self.keys():
                if existing.lower() == key.lower():
                    return existing
        return key

    def __getitem__(self, key: object) -> str:
        return dict.__getitem__(self, self._key(key))

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, self._key(key))

    def get(self, key: object, default: Any = None) -> Any:
        return dict.get(self, self._key(key), default)


def rate_limit_error(wait: int, limit: int | None = None, remaining: int | None = 0) -> ApiError:
    headers = {}
    if limit is not None:
        headers = {"X-Rate-Limit-Limit": str(limit), "X-Rate-Limit-Remaining": str(remaining)}
    return ApiError(
        420,
        "rate_limit",
        f"You have hit the rate limit. Please wait {int(wait)} seconds before trying again",
        headers=headers,
    )
