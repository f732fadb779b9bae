"""In-memory Podio: the people, apps, items and credentials the fake server answers from.

Everything sits behind one re-entrant lock: the HTTP server answers each connection in its own
thread while the test thread keeps adding data, moving the clock and reading the request log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from . import seed as _seed

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


class PodioState:
    """The fake's data and rules, independent of HTTP so tests can drive it directly too."""

    def __init__(
        self,
        client_id: str = "test-client-id",
        client_secret: str = "test-client-secret",  # noqa: S107 - the fake's public test key
        *,
        access_token_ttl: int = 28800,
        strict_rotation: bool = True,
        seed: int = 0,
    ) -> None:
        self._lock = threading.RLock()
        self.client_id = client_id
        self.client_secret = client_secret
        self.client_name = "Django Podio (fake)"
        self.access_token_ttl = access_token_ttl
        self.strict_rotation = strict_rotation
        self.seed = seed
        self.rate_limit_general = 1000
        self.rate_limit_limited = 250
        self.rate_limit_login = 60
        self.authorize_mode = "auto"
        self._clock_offset = 0.0
        self._ids = {
            "user": 1001,
            "profile": 50001,
            "org": 5001,
            "space": 7001,
            "app": 20001,
            "field": 80600001,
            "item": 100000001,
        }
        self.users: dict[int, FakeUser] = {}
        self.orgs: dict[int, FakeOrg] = {}
        self.spaces: dict[int, FakeSpace] = {}
        self.apps: dict[int, FakeApp] = {}
        self._item_index: dict[int, int] = {}  # item_id -> app_id
        self._deleted_items: set[int] = set()
        self.tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.codes: dict[str, AuthCode] = {}
        self._current_user_id: int | None = None
        self._default_space_id: int | None = None
        self._rate_counts: dict[tuple[Any, ...], int] = {}
        self.refresh_grants_used = 0
        self._log: list[RecordedRequest] = []

    # ------------------------------------------------------------------ clock
    def now(self) -> float:
        """The fake's clock: wall time plus whatever ``advance()`` added."""
        return time.time() + self._clock_offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock forward so tokens, codes and rate windows expire by it."""
        with self._lock:
            self._clock_offset += seconds

    def _next_id(self, kind: str, wanted: int | None = None) -> int:
        with self._lock:
            if wanted is not None:
                self._ids[kind] = max(self._ids[kind], int(wanted) + 1)
                return int(wanted)
            value = self._ids[kind]
            self._ids[kind] += 1
            return value

    # ------------------------------------------------------------------ people
    def add_user(
        self,
        user_id: int | None = None,
        mail: str | None = None,
        name: str | None = None,
        password: str | None = None,
    ) -> FakeUser:
        with self._lock:
            if user_id is not None and int(user_id) in self.users:
                raise ValueError(f"user {user_id} exists already")
            n = len(self.users) + 1
            mail = mail or f"user{n}@example.com"
            if any(u.mail.lower() == mail.lower() for u in self.users.values()):
                raise ValueError(f"a user with mail {mail!r} exists already")
            user = FakeUser(
                user_id=self._next_id("user", user_id),
                mail=mail,
                name=name or f"User {n}",
                password="password" if password is None else password,
                profile_id=self._next_id("profile"),
                created_on=self.now() - 400 * 86400,
            )
            self.users[user.user_id] = user
            return user

    @property
    def current_user(self) -> FakeUser:
        """The Podio user "logged in" in the browser that visits the authorize page."""
        with self._lock:
            if self._current_user_id is None or self._current_user_id not in self.users:
                user = next(iter(self.users.values()), None) or self.add_user()
                self._current_user_id = user.user_id
            return self.users[self._current_user_id]

    @current_user.setter
    def current_user(self, user: FakeUser | int) -> None:
        user_id = user.user_id if isinstance(user, FakeUser) else int(user)
        with self._lock:
            if user_id not in self.users:
                raise KeyError(f"no user {user_id}")
            self._current_user_id = user_id

    def user_by_mail(self, mail: str) -> FakeUser | None:
        with self._lock:
            return next((u for u in self.users.values() if u.mail.lower() == mail.lower()), None)

    def _user_by_profile(self, profile_id: int) -> FakeUser | None:
        return next((u for u in self.users.values() if u.profile_id == profile_id), None)

    # ------------------------------------------------------------------ orgs, spaces, apps
    def add_org(self, name: str = "Fake Org", *, org_id: int | None = None) -> FakeOrg:
        with self._lock:
            org = FakeOrg(org_id=self._next_id("org", org_id), name=name)
            self.orgs[org.org_id] = org
            return org

    def add_space(
        self, org_id: int | None = None, name: str = "Fake Space", *, space_id: int | None = None
    ) -> FakeSpace:
        with self._lock:
            if org_id is None:
                org_id = next(iter(self.orgs), None) or self.add_org().org_id
            org = self.orgs[org_id]
            space = FakeSpace(space_id=self._next_id("space", space_id), org_id=org_id, name=name)
            self.spaces[space.space_id] = space
            org.space_ids.append(space.space_id)
            return space

    def _default_space(self) -> int:
        if self._default_space_id is None or self._default_space_id not in self.spaces:
            self._default_space_id = self.add_space().space_id
        return self._default_space_id

    def add_app(
        self,
        app_id: int | None = None,
        *,
        name: str = "Projects",
        space_id: int | None = None,
        app_token: str | None = None,
        fields: list[dict[str, Any]] | None = None,
        item_name: str | None = None,
    ) -> FakeApp:
        with self._lock:
            if app_id is not None and int(app_id) in self.apps:
                raise ValueError(f"app {app_id} exists already")
            if space_id is None:
                space_id = self._default_space()
            elif space_id not in self.spaces:
                org_id = next(iter(self.orgs), None) or self.add_org().org_id
                self.add_space(org_id, f"Space {space_id}", space_id=space_id)
            new_id = self._next_id("app", app_id)
            defs = _seed.default_fields(new_id) if fields is None else [dict(f) for f in fields]
            app = FakeApp(
                app_id=new_id,
                name=name,
                space_id=space_id,
                app_token=app_token or make_secret(APP_TOKEN_PREFIX, 32),
                fields=[self._complete_field(f, delta) for delta, f in enumerate(defs)],
                item_name=item_name or (name[:-1] if name.endswith("s") else name),
            )
            self.apps[app.app_id] = app
            return app

    def _complete_field(self, spec: dict[str, Any], delta: int = 0) -> dict[str, Any]:
        """Fill in what Podio always has on a field, so partial test definitions work."""
        ftype = spec.get("type", "text")
        label = spec.get("label") or spec.get("config", {}).get("label") or "Field"
        external_id = spec.get("external_id") or slugify(label)
        config = {
            "label": label,
            "description": None,
            "delta": delta,
            "settings": {},
            "required": False,
            "hidden": False,
            "unique": False,
            "mapping": None,
            "visible": True,
            "hidden_create_view_edit": False,
            "default_value": None,
        }
        config.update(spec.get("config") or {})
        if "settings" in spec:
            config["settings"] = spec["settings"]
        return {
            "field_id": self._next_id("field", spec.get("field_id")),
            "external_id": external_id,
            "type": ftype,
            "label": label,
            "status": spec.get("status", "active"),
            "config": config,
        }

    def get_app(self, app_id: int) -> FakeApp:
        with self._lock:
            try:
                return self.apps[int(app_id)]
            except KeyError:
                raise ApiError(404, "not_found", "App not found") from None

    # ------------------------------------------------------------------ items
    def _field(self, app: FakeApp, key: Any) -> dict[str, Any]:
        text = str(key)
        for f in app.fields:
            if f["external_id"] == text or str(f["field_id"]) == text:
                return f
        raise ApiError(
            400,
            "invalid_value",
            f"No field with id or external_id {text!r} in app {app.app_id}",
            parameters={"field": text},
        )

    def _ref_of(self, created_by: Any) -> tuple[str, int]:
        if isinstance(created_by, FakeUser):
            return ("user", created_by.user_id)
        if isinstance(created_by, tuple):
            return (str(created_by[0]), int(created_by[1]))
        if created_by is None:
            return ("user", self.current_user.user_id)
        return ("user", int(created_by))

    def add_item(
        self,
        app_id: int,
        *,
        fields: dict[str, Any] | None = None,
        external_id: str | None = None,
        created_by: Any = None,
        created_on: float | None = None,
        last_edit_on: float | None = None,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        """Create an item from write-shaped field values; returns it as GET /item/{id} would."""
        with self._lock:
            item = self._create_item(
                app_id,
                fields or {},
                external_id=external_id,
                created_by=self._ref_of(created_by),
                created_on=created_on,
                last_edit_on=last_edit_on,
                tags=tags,
            )
            return self.item_json(item)

    def _create_item(
        self,
        app_id: int,
        fields: dict[str, Any],
        *,
        external_id: str | None,
        created_by: tuple[str, int],
        created_on: float | None = None,
        last_edit_on: float | None = None,
        tags: list[str] | None = None,
    ) -> FakeItem:
        app = self.get_app(app_id)
        values = {}
        for key, raw in fields.items():
            f = self._field(app, key)
            entries = self._normalize(app, f, raw)
            if entries:
                values[f["external_id"]] = entries
        created = int(self.now() if created_on is None else created_on)
        item = FakeItem(
            item_id=self._next_id("item"),
            app_id=app.app_id,
            app_item_id=app.next_app_item_id,
            external_id=None if external_id is None else str(external_id),
            values=values,
            created_on=created,
            created_by=created_by,
            last_edit_on=int(created if last_edit_on is None else last_edit_on),
            tags=list(tags or []),
        )
        app.next_app_item_id += 1
        app.items[item.item_id] = item
        self._item_index[item.item_id] = app.app_id
        return item

    def add_items(self, app_id: int, n: int) -> list[int]:
        """Add ``n`` generated items with realistic values in every field, deterministic by seed."""
        with self._lock:
            app = self.get_app(app_id)
            rng = random.Random(f"{self.seed}:{app.app_id}:{len(app.items)}")
            return _seed.generate_items(self, app, n, rng)

    def get_item(self, item_id: int) -> FakeItem:
        with self._lock:
            item_id = int(item_id)
            if item_id in self._deleted_items:
                raise ApiError(410, "gone", "This item has been deleted")
            app_id = self._item_index.get(item_id)
            if app_id is None:
                raise ApiError(404, "not_found", "Item not found")
            return self.apps[app_id].items[item_id]

    def update_item(
        self,
        item_id: int,
        fields: dict[str, Any] | None = None,
        *,
        external_id: str | None = None,
        tags: list[str] | None = None,
    ) -> int:
        """Change values like a Podio UI edit: new revision, new last edit time."""
        with self._lock:
            item = self.get_item(item_id)
            app = self.apps[item.app_id]
            for key, raw in (fields or {}).items():
                f = self._field(app, key)
                entries = self._normalize(app, f, raw)
                if entries:
                    item.values[f["external_id"]] = entries
                else:
                    item.values.pop(f["external_id"], None)
            if external_id is not None:
                item.external_id = str(external_id)
            if tags is not None:
                item.tags = list(tags)
            item.revision += 1
            item.last_edit_on = max(int(self.now()), item.last_edit_on)
            return item.revision

    def delete_item(self, item_id: int) -> None:
        with self._lock:
            item = self.get_item(item_id)
            del self.apps[item.app_id].items[item.item_id]
            del self._item_index[item.item_id]
            self._deleted_items.add(item.item_id)

    def item_by_external_id(self, app_id: int, external_id: str) -> FakeItem:
        with self._lock:
            app = self.get_app(app_id)
            matches = [i for i in app.items.values() if i.external_id == external_id]
            if not matches:
                raise ApiError(404, "not_found", "No item found with the given external_id")
            return min(matches, key=lambda i: i.item_id)

    # ------------------------------------------------------------------ value conversion
    def _normalize(self, app: FakeApp, f: dict[str, Any], raw: Any) -> list[Any]:
        """Write shape (what clients send) -> stored entries (one per Podio value)."""
        if raw is None or raw == [] or raw == "":
            return []
        ftype = f["type"]
        items = raw if isinstance(raw, list) else [raw]
        out = []
        try:
            for value in items:
                entry = self._normalize_one(app, f, ftype, value)
                if entry is not None:
                    out.append(entry)
        except (ValueError, TypeError, KeyError, InvalidOperation) as error:
            raise ApiError(
                400,
                "invalid_value",
                f"Invalid value {raw!r} for field {f['external_id']!r} ({ftype}): {error}",
                parameters={"field": f["external_id"]},
            ) from None
        if ftype in ("text", "number", "money", "progress", "duration", "date", "calculation"):
            out = out[:1]
        return out

    def _normalize_one(self, app: FakeApp, f: dict[str, Any], ftype: str, value: Any) -> Any:
        if ftype == "text":
            return str(value["value"] if isinstance(value, dict) else value)
        if ftype in ("number", "calculation"):
            v = value["value"] if isinstance(value, dict) else value
            return Decimal(str(v))
        if ftype == "money":
            if isinstance(value, dict):
                return {"value": Decimal(str(value["value"])), "currency": value.get("currency")}
            return {"value": Decimal(str(value)), "currency": "EUR"}
        if ftype in ("progress", "duration"):
            return int(value["value"] if isinstance(value, dict) else value)
        if ftype == "category":
            options = f["config"].get("settings", {}).get("options", [])
            v = value.get("value", value.get("id")) if isinstance(value, dict) else value
            if isinstance(v, dict):
                v = v.get("id")
            for option in options:
                if str(option["id"]) == str(v) or option["text"] == v:
                    return option["id"]
            raise ValueError(f"no option {v!r}")
        if ftype == "date":
            return self._normalize_date(value)
        if ftype == "contact":
            if isinstance(value, dict):
                inner = value.get("value", value)
                if isinstance(inner, dict):
                    if "profile_id" in inner:
                        return int(inner["profile_id"])
                    user = self.users.get(int(inner["user_id"]))
                    if user is None:
                        raise ValueError("unknown user")
                    return user.profile_id
                value = inner
            profile_id = int(value)
            if self._user_by_profile(profile_id) is None:
                raise ValueError(f"unknown profile {profile_id}")
            return profile_id
        if ftype == "app":
            if isinstance(value, dict):
                inner = value.get("value", value)
                value = inner["item_id"] if isinstance(inner, dict) else inner
            item_id = int(value)
            if item_id not in self._item_index:
                raise ValueError(f"unknown item {item_id}")
            return item_id
        if ftype in ("email", "phone"):
            if isinstance(value, dict):
                return {"type": value.get("type", "work"), "value": str(value["value"])}
            return {"type": "work" if ftype == "email" else "mobile", "value": str(value)}
        if ftype == "location":
            return str(value.get("value") if isinstance(value, dict) else value)
        return value

    def _normalize_date(self, value: Any) -> dict[str, str | None]:
        """Dates are written in the user's local time (start/end) or UTC (start_utc/end_utc)."""

        def one(v: dict[str, Any], side: str) -> str | None:
            if v.get(f"{side}_utc"):
                return self._canon(v[f"{side}_utc"], utc=True)
            if v.get(side):
                return self._canon(v[side], utc=False)
            if v.get(f"{side}_date"):
                joined = v[f"{side}_date"]
                if v.get(f"{side}_time"):
                    joined += " " + v[f"{side}_time"]
                return self._canon(joined, utc=False)
            return None

        if isinstance(value, str):
            value = {"start": value}
        if not isinstance(value, dict):
            raise TypeError("date must be an object or string")
        start = one(value, "start")
        if start is None:
            raise ValueError("date needs a start")
        return {"start_utc": start, "end_utc": one(value, "end")}

    @staticmethod
    def _canon(text: str, *, utc: bool) -> str:
        text = str(text).strip().replace("T", " ")
        if len(text) == 10:
            datetime.strptime(text, "%Y-%m-%d")
            return text
        moment = datetime.strptime(text[:19], TS_FORMAT)
        if not utc:
            moment = moment.replace(tzinfo=LOCAL_TZ).astimezone(UTC).replace(tzinfo=None)
        return moment.strftime(TS_FORMAT)

    # ------------------------------------------------------------------ JSON rendering
    def _byline(self, ref: tuple[str, int]) -> dict[str, Any]:
        kind, ref_id = ref
        if kind == "app":
            app = self.apps.get(ref_id)
            return {
                "type": "app",
                "id": ref_id,
                "app_id": ref_id,
                "name": app.name if app else "App",
                "url": None,
                "avatar": None,
                "image": None,
                "avatar_type": "icon",
            }
        user = self.users.get(ref_id)
        return {
            "type": "user",
            "id": ref_id,
            "user_id": ref_id,
            "name": user.name if user else "Deleted user",
            "url": f"https://podio.com/users/{ref_id}",
            "avatar": None,
            "image": None,
            "avatar_type": "file",
            "last_seen_on": None,
        }

    def _profile(self, user: FakeUser) -> dict[str, Any]:
        return {
            "profile_id": user.profile_id,
            "user_id": user.user_id,
            "name": user.name,
            "type": "user",
            "mail": [user.mail],
            "avatar": None,
            "image": None,
            "link": f"https://podio.com/users/{user.user_id}",
            "url": [],
            "external_id": None,
            "last_seen_on": None,
        }

    def _space_json(self, space: FakeSpace) -> dict[str, Any]:
        org = self.orgs[space.org_id]
        return {
            "space_id": space.space_id,
            "name": space.name,
            "url": f"https://podio.com/{slugify(org.name)}/{slugify(space.name)}/",
            "url_label": slugify(space.name),
            "org_id": space.org_id,
            "role": "admin",
            "rights": ["view", "update", "delete", "add_app", "add_item", "add_task"],
            "privacy": "closed",
            "auto_join": False,
            "type": "regular",
            "premium": False,
            "description": None,
            "created_on": fmt_ts(self.now() - 300 * 86400),
        }

    def _org_json(self, org: FakeOrg) -> dict[str, Any]:
        return {
            "org_id": org.org_id,
            "name": org.name,
            "url": f"https://podio.com/{slugify(org.name)}/",
            "url_label": slugify(org.name),
            "premium": False,
            "role": "admin",
            "status": "active",
            "type": "free",
            "rights": ["view", "update", "add_space"],
            "logo": None,
            "image": None,
            "spaces": [self._space_json(self.spaces[s]) for s in org.space_ids],
        }

    def _app_link(self, app: FakeApp) -> str:
        space = self.spaces.get(app.space_id)
        org = self.orgs.get(space.org_id) if space else None
        org_slug = slugify(org.name) if org else "org"
        space_slug = slugify(space.name) if space else "space"
        return f"https://podio.com/{org_slug}/{space_slug}/apps/{slugify(app.name)}"

    def _app_mini(self, app: FakeApp) -> dict[str, Any]:
        return {
            "app_id": app.app_id,
            "space_id": app.space_id,
            "name": app.name,
            "item_name": app.item_name,
            "icon": "1.png",
            "icon_id": 1,
            "url_label": slugify(app.name),
            "link": self._app_link(app),
            "link_add": self._app_link(app) + "/items/new",
            "status": "active",
            "config": {
                "name": app.name,
                "item_name": app.item_name,
                "icon": "1.png",
                "icon_id": 1,
                "type": "standard",
                "allow_edit": True,
                "allow_create": True,
                "default_view": "badge",
                "description": None,
                "external_id": None,
            },
        }

    def app_json(self, app: FakeApp) -> dict[str, Any]:
        with self._lock:
            data = self._app_mini(app)
            data.update(
                {
                    "original": None,
                    "original_revision": None,
                    "owner": self._byline(("user", self.current_user.user_id)),
                    "fields": [dict(f) for f in app.fields],
                    "url": self._app_link(app),
                    "rights": ["view", "add_item", "update", "delete"],
                }
            )
            return data

    def _render_entry(self, ftype: str, f: dict[str, Any], entry: Any) -> dict[str, Any] | None:
        if ftype == "text":
            return {"value": entry}
        if ftype in ("number", "calculation"):
            return {"value": f"{Decimal(entry):.4f}"}
        if ftype == "money":
            return {"value": f"{Decimal(entry['value']):.4f}", "currency": entry["currency"]}
        if ftype in ("progress", "duration"):
            return {"value": int(entry)}
        if ftype == "category":
            for option in f["config"].get("settings", {}).get("options", []):
                if option["id"] == entry:
                    return {"value": dict(option)}
            return None
        if ftype == "date":
            return self._render_date(entry)
        if ftype == "contact":
            user = self._user_by_profile(entry)
            return {"value": self._profile(user)} if user else None
        if ftype == "app":
            app_id = self._item_index.get(entry)
            if app_id is None:
                return None
            ref = self.apps[app_id].items[entry]
            ref_app = self.apps[app_id]
            return {
                "value": {
                    "item_id": ref.item_id,
                    "app_item_id": ref.app_item_id,
                    "app_item_id_formatted": str(ref.app_item_id),
                    "title": self._title(ref_app, ref),
                    "link": f"{self._app_link(ref_app)}/items/{ref.app_item_id}",
                    "created_on": fmt_ts(ref.created_on),
                    "created_by": self._byline(ref.created_by),
                    "app": self._app_mini(ref_app),
                    "external_id": ref.external_id,
                }
            }
        if ftype in ("email", "phone"):
            return dict(entry)
        if ftype == "location":
            return {
                "value": entry,
                "formatted": entry,
                "street_number": None,
                "street_name": None,
                "postal_code": None,
                "city": None,
                "state": None,
                "country": None,
                "lat": None,
                "lng": None,
                "map_in_sync": True,
            }
        return {"value": entry}

    @staticmethod
    def _render_date(entry: dict[str, str | None]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for side in ("start", "end"):
            utc_text = entry.get(f"{side}_utc")
            if not utc_text:
                out.update(
                    {
                        side: None,
                        f"{side}_date": None,
                        f"{side}_time": None,
                        f"{side}_utc": None,
                        f"{side}_date_utc": None,
                        f"{side}_time_utc": None,
                    }
                )
                continue
            if len(utc_text) == 10:
                out.update(
                    {
                        side: utc_text,
                        f"{side}_date": utc_text,
                        f"{side}_time": None,
                        f"{side}_utc": utc_text,
                        f"{side}_date_utc": utc_text,
                        f"{side}_time_utc": None,
                    }
                )
                continue
            moment = datetime.strptime(utc_text, TS_FORMAT).replace(tzinfo=UTC)
            local = moment.astimezone(LOCAL_TZ)
            out.update(
                {
                    side: local.strftime(TS_FORMAT),
                    f"{side}_date": local.strftime("%Y-%m-%d"),
                    f"{side}_time": local.strftime("%H:%M:%S"),
                    f"{side}_utc": utc_text,
                    f"{side}_date_utc": moment.strftime("%Y-%m-%d"),
                    f"{side}_time_utc": moment.strftime("%H:%M:%S"),
                }
            )
        return out

    def _computed_values(self, app: FakeApp, item: FakeItem) -> dict[str, list[Any]]:
        values = dict(item.values)
        for f in app.fields:
            if f["type"] == "calculation" and f["external_id"] not in values:
                amount = next(
                    (
                        item.values[g["external_id"]][0]
                        for g in app.fields
                        if g["type"] == "number" and g["external_id"] in item.values
                    ),
                    None,
                )
                if amount is not None:
                    values[f["external_id"]] = [Decimal(amount) * Decimal("0.1")]
        return values

    def _title(self, app: FakeApp, item: FakeItem) -> str:
        for f in app.fields:
            if f["type"] == "text" and f["external_id"] in item.values:
                return str(item.values[f["external_id"]][0])
        return ""

    def item_json(self, item: FakeItem) -> dict[str, Any]:
        """The full GET /item/{id} answer (Podio's read shapes, empty fields left out)."""
        with self._lock:
            app = self.apps[item.app_id]
            values = self._computed_values(app, item)
            fields = []
            for f in app.fields:
                entries = values.get(f["external_id"])
                if not entries:
                    continue
                rendered = [self._render_entry(f["type"], f, e) for e in entries]
                rendered = [r for r in rendered if r is not None]
                if rendered:
                    fields.append({**f, "values": rendered})
            title = self._title(app, item)
            link = f"{self._app_link(app)}/items/{item.app_item_id}"
            byline = self._byline(item.created_by)
            revision = {
                "item_revision_id": item.item_id * 100 + item.revision,
                "revision": item.revision,
                "type": byline["type"],
                "created_by": byline,
                "created_via": self._via(),
                "created_on": fmt_ts(item.last_edit_on),
            }
            initial = {**revision, "revision": 0, "created_on": fmt_ts(item.created_on)}
            initial["item_revision_id"] = item.item_id * 100
            return {
                "item_id": item.item_id,
                "app_item_id": item.app_item_id,
                "app_item_id_formatted": str(item.app_item_id),
                "external_id": item.external_id,
                "title": title,
                "link": link,
                "revision": item.revision,
                "created_on": fmt_ts(item.created_on),
                "created_by": byline,
                "created_via": self._via(),
                "initial_revision": initial,
                "current_revision": revision,
                "last_event_on": fmt_ts(item.last_edit_on),
                "app": self._app_mini(app),
                "space": self._space_json(self.spaces[app.space_id])
                if app.space_id in self.spaces
                else None,
                "fields": fields,
                "tags": list(item.tags),
                "files": [],
                "comments": [],
                "ratings": {},
                "rights": ["view", "update", "delete", "comment", "rate", "subscribe"],
                "subscribed": True,
                "subscribed_count": 1,
                "user_ratings": {},
                "priority": 0,
                "like_count": 0,
                "is_liked": False,
                "comment_count": 0,
                "file_count": 0,
                "task_count": 0,
                "excerpt": {"label": title[:100], "text": title[:100]},
                "sharefile_vault_url": None,
                "push": None,
                "presence": None,
            }

    @staticmethod
    def _via() -> dict[str, Any]:
        return {"id": 1, "name": "Podio", "url": "https://podio.com", "display": False}

    # ------------------------------------------------------------------ filtering
    SORT_KEYS = ("created_on", "last_edit_on", "item_id", "app_item_id", "title")

    def filter_items(self, app_id: int, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            app = self.get_app(app_id)
            try:
                limit = int(body.get("limit", 30))
                offset = int(body.get("offset", 0))
            except (TypeError, ValueError):
                raise ApiError(400, "invalid_value", "limit and offset must be integers") from None
            if limit > 500 or limit < 1:
                raise ApiError(
                    400,
                    "invalid_value",
                    f"Invalid value {limit} (integer): must be between 1 and 500",
                    parameters={"limit": limit},
                )
            if offset < 0:
                raise ApiError(400, "invalid_value", "offset must not be negative")
            sort_by = body.get("sort_by") or "created_on"
            if sort_by not in self.SORT_KEYS:
                raise ApiError(400, "invalid_value", f"Invalid sort_by {sort_by!r}")
            sort_desc = body.get("sort_desc", True)
            if isinstance(sort_desc, str):
                sort_desc = sort_desc.lower() in ("1", "true", "yes")
            filters = body.get("filters") or {}
            if not isinstance(filters, dict):
                raise ApiError(400, "invalid_value", "filters must be an object")
            matching = [i for i in app.items.values() if self._matches(app, i, filters)]

            def key(item: FakeItem) -> tuple[Any, int]:
                if sort_by == "title":
                    return (self._title(app, item).lower(), item.item_id)
                return (getattr(item, sort_by), item.item_id)

            matching.sort(key=key, reverse=bool(sort_desc))
            page = matching[offset : offset + limit]
            return {
                "total": len(app.items),
                "filtered": len(matching),
                "items": [self.item_json(i) for i in page],
            }

    def _matches(self, app: FakeApp, item: FakeItem, filters: dict[str, Any]) -> bool:
        for key, cond in filters.items():
            if key in ("created_on", "last_edit_on"):
                if not self._in_range(getattr(item, key), cond, dates=True):
                    return False
            elif key == "item_id":
                ids = cond if isinstance(cond, list) else [cond]
                if item.item_id not in {int(i) for i in ids}:
                    return False
            elif key == "app_item_id":
                ids = cond if isinstance(cond, list) else [cond]
                if item.app_item_id not in {int(i) for i in ids}:
                    return False
            elif key == "external_id":
                ids = cond if isinstance(cond, list) else [cond]
                if item.external_id not in {str(i) for i in ids}:
                    return False
            elif key == "created_by":
                refs = cond if isinstance(cond, list) else [cond]
                wanted = {
                    (r.get("type", "user"), int(r["id"]))
                    if isinstance(r, dict)
                    else ("user", int(r))
                    for r in refs
                }
                if item.created_by not in wanted:
                    return False
            elif not self._field_matches(app, item, key, cond):
                return False
        return True

    def _in_range(self, value: Any, cond: Any, *, dates: bool) -> bool:
        if not isinstance(cond, dict):
            raise ApiError(400, "invalid_value", f"Invalid range filter {cond!r}")
        try:
            if dates:
                low = parse_ts(cond["from"]) if cond.get("from") else None
                high = parse_ts(cond["to"], end_of_day=True) if cond.get("to") else None
            else:
                low = Decimal(str(cond["from"])) if cond.get("from") is not None else None
                high = Decimal(str(cond["to"])) if cond.get("to") is not None else None
        except (ValueError, InvalidOperation):
            raise ApiError(400, "invalid_value", f"Invalid range filter {cond!r}") from None
        if low is not None and value < low:
            return False
        return not (high is not None and value > high)

    def _field_matches(self, app: FakeApp, item: FakeItem, key: str, cond: Any) -> bool:
        f = self._field(app, key)
        entries = self._computed_values(app, item).get(f["external_id"], [])
        ftype = f["type"]
        if ftype in ("category", "contact", "app"):
            wanted = {int(c) for c in (cond if isinstance(cond, list) else [cond])}
            return any(e in wanted for e in entries)
        if ftype in ("number", "calculation", "progress", "duration", "money"):
            nums = [Decimal(str(e["value"] if isinstance(e, dict) else e)) for e in entries]
            return any(self._in_range(n, cond, dates=False) for n in nums)
        if ftype == "date":
            starts = [parse_ts(e["start_utc"]) for e in entries]
            return any(self._in_range(s, cond, dates=True) for s in starts)
        if ftype == "text":
            needle = str(cond).lower()
            return any(needle in str(e).lower() for e in entries)
        raise ApiError(400, "invalid_value", f"Cannot filter on field type {ftype!r}")

    # ------------------------------------------------------------------ OAuth
    def _issue(self, client_id: str, ref_type: str, ref_id: int, scope: str) -> dict[str, Any]:
        now = self.now()
        access = AccessToken(
            token=make_secret(ACCESS_PREFIX, 128),
            client_id=client_id,
            ref_type=ref_type,
            ref_id=ref_id,
            scope=scope,
            issued_at=now,
            expires_at=now + self.access_token_ttl,
        )
        refresh = RefreshToken(
            token=make_secret(REFRESH_PREFIX, 64),
            client_id=client_id,
            ref_type=ref_type,
            ref_id=ref_id,
            scope=scope,
            issued_at=now,
            expires_at=now + REFRESH_TTL,
        )
        self.tokens[access.token] = access
        self.refresh_tokens[refresh.token] = refresh
        return {
            "access_token": access.token,
            "token_type": "bearer",
            "expires_in": int(self.access_token_ttl),
            "refresh_token": refresh.token,
            "scope": scope,
            "ref": {"type": ref_type, "id": ref_id},
        }

    def check_client(self, client_id: str) -> bool:
        return hmac.compare_digest(str(client_id).encode(), self.client_id.encode())

    def issue_code(
        self,
        client_id: str,
        redirect_uri: str,
        scope: str | None,
        code_challenge: str | None = None,
        code_challenge_method: str | None = None,
    ) -> str:
        with self._lock:
            now = self.now()
            code = AuthCode(
                code=make_secret(CODE_PREFIX, 40),
                client_id=client_id,
                redirect_uri=redirect_uri,
                user_id=self.current_user.user_id,
                scope=scope or "global:all",
                issued_at=now,
                expires_at=now + CODE_TTL,
                code_challenge=code_challenge or "",
                code_challenge_method=code_challenge_method or "",
            )
            self.codes[code.code] = code
            return code.code

    def issue_implicit(self, client_id: str, scope: str | None) -> dict[str, Any]:
        with self._lock:
            return self._issue(client_id, "user", self.current_user.user_id, scope or "global:all")

    def grant(self, params: dict[str, Any]) -> dict[str, Any]:
        """The token endpoint's decision for one request (form and JSON bodies alike)."""

        def param(name: str) -> str:
            value = params.get(name)
            return "" if value is None else str(value)

        with self._lock:
            client_ok = self.check_client(param("client_id")) and hmac.compare_digest(
                param("client_secret").encode(), self.client_secret.encode()
            )
            if not client_ok:
                raise ApiError(401, "invalid_client", "Invalid client_id or client_secret")
            grant_type = param("grant_type")
            now = self.now()
            if grant_type == "authorization_code":
                code = self.codes.get(param("code"))
                if code is None or code.used or code.client_id != self.client_id:
                    raise ApiError(400, "invalid_grant", "Invalid or already used code")
                if now >= code.expires_at:
                    raise ApiError(400, "invalid_grant", "The authorization code has expired")
                if param("redirect_uri") != code.redirect_uri:
                    raise ApiError(400, "invalid_grant", "The redirect_uri does not match")
                if code.code_challenge and not pkce_matches(code, param("code_verifier")):
                    raise ApiError(400, "invalid_grant", "The code_verifier does not match")
                code.used = True
                return self._issue(self.client_id, "user", code.user_id, code.scope)
            if grant_type == "refresh_token":
                token = self.refresh_tokens.get(param("refresh_token"))
                dead = (
                    token is None
                    or token.revoked
                    or (token.used and self.strict_rotation)
                    or now >= token.expires_at
                    or token.client_id != self.client_id
                )
                if dead:
                    raise ApiError(400, "invalid_grant", "Invalid refresh_token")
                token.used = True
                self.refresh_grants_used += 1
                return self._issue(self.client_id, token.ref_type, token.ref_id, token.scope)
            if grant_type == "password":
                user = self.user_by_mail(param("username"))
                if user is None or not hmac.compare_digest(
                    param("password").encode(), user.password.encode()
                ):
                    raise ApiError(400, "invalid_grant", "Invalid user credentials")
                return self._issue(
                    self.client_id, "user", user.user_id, param("scope") or "global:all"
                )
            if grant_type == "app":
                try:
                    app = self.apps.get(int(param("app_id")))
                except ValueError:
                    app = None
                if app is None or not hmac.compare_digest(
                    param("app_token").encode(), app.app_token.encode()
                ):
                    raise ApiError(400, "invalid_grant", "Invalid app_id or app_token")
                return self._issue(self.client_id, "app", app.app_id, "global:all")
            raise ApiError(
                400,
                "unsupported_grant_type",
                f"The grant type {grant_type or 'null'!r} is not supported",
            )

    def authenticate(self, token: str | None) -> AccessToken:
        with self._lock:
            if not token:
                raise ApiError(
                    401,
                    "unauthorized",
                    "no access token",
                    headers={"WWW-Authenticate": 'Bearer realm="podio"'},
                )
            record = self.tokens.get(token)
            if record is None:
                raise ApiError(
                    401,
                    "invalid_token",
                    "invalid_token",
                    headers={"WWW-Authenticate": 'Bearer realm="podio", error="invalid_token"'},
                )
            if record.expired or self.now() >= record.expires_at:
                raise ApiError(
                    401,
                    "unauthorized",
                    "expired_token",
                    headers={"WWW-Authenticate": 'Bearer realm="podio", error="expired_token"'},
                )
            return record

    def expire_access_tokens(self) -> None:
        """Every access token issued so far answers 401 expired_token from now on."""
        with self._lock:
            for token in self.tokens.values():
                token.expired = True

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token issued so far answers invalid_grant from now on."""
        with self._lock:
            for token in self.refresh_tokens.values():
                token.revoked = True

    def issued_secrets(self) -> set[str]:
        """Every credential the fake issued or knows, for leak scans."""
        with self._lock:
            found = {self.client_secret}
            found.update(self.tokens)
            found.update(self.refresh_tokens)
            found.update(self.codes)
            found.update(app.app_token for app in self.apps.values())
            return {s for s in found if s}

    # ------------------------------------------------------------------ rate limits
    def take_rate_limit(self, key: tuple[Any, ...], pool: str) -> tuple[int, int]:
        """Count one call in its hourly window; raise a 420 once the pool is spent."""
        limit = {
            "general": self.rate_limit_general,
            "limited": self.rate_limit_limited,
            "login": self.rate_limit_login,
        }[pool]
        with self._lock:
            now = self.now()
            window = int(now // HOUR)
            counter = (*key, pool, window)
            used = self._rate_counts.get(counter, 0)
            if used >= limit:
                wait = max(1, int(HOUR - (now % HOUR) + 0.999))
                raise rate_limit_error(wait, limit, 0)
            self._rate_counts[counter] = used + 1
            return limit, max(0, limit - used - 1)

    # ------------------------------------------------------------------ request log
    def _record(self, entry: RecordedRequest) -> None:
        with self._lock:
            self._log.append(entry)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._log)

    def requests_to(self, path_prefix: str, method: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [
                r
                for r in self._log
                if r.path.startswith(path_prefix)
                and (method is None or r.method.upper() == method.upper())
            ]

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()

    # ------------------------------------------------------------------ seeding
    def seed_demo(self, items: int = 300) -> dict[str, Any]:
        """A ready-made demo: user demo@example.com/demo, "Demo Org", app "Projects"."""
        return _seed.seed_demo(self, items)


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
