"""In-memory Podio: the people, apps, items and credentials the fake server answers from.

Everything sits behind one re-entrant lock: the HTTP server answers each connection in its own
thread while the test thread keeps adding data, moving the clock and reading the request log.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from . import seed as _seed
from .directory import DirectoryState
from .hooks import DeliveryOptions, FakeHook, HookDelivery, HookState
from .items import REMOVE, ItemState
from .oauth import OAuthState
from .records import (
    HOUR,
    AccessToken,
    ApiError,
    AuthCode,
    FakeApp,
    FakeItem,
    FakeOrg,
    FakeSpace,
    FakeUser,
    Headers,
    RecordedRequest,
    RefreshToken,
    fmt_ts,
    make_secret,
    parse_ts,
    pkce_matches,
    rate_limit_error,
    slugify,
)
from .writes import FakeFile, WriteState

# What ``from .state import ...`` gave before the state was split by resource.
__all__ = [
    "REMOVE",
    "AccessToken",
    "ApiError",
    "AuthCode",
    "DeliveryOptions",
    "FakeApp",
    "FakeFile",
    "FakeHook",
    "FakeItem",
    "FakeOrg",
    "FakeSpace",
    "FakeUser",
    "Headers",
    "HookDelivery",
    "PodioState",
    "RecordedRequest",
    "RefreshToken",
    "fmt_ts",
    "make_secret",
    "parse_ts",
    "pkce_matches",
    "rate_limit_error",
    "slugify",
]


class PodioState(DirectoryState, ItemState, WriteState, OAuthState, HookState):
    """The fake's data and rules, independent of HTTP so tests can drive it directly too.

    Split by resource: :mod:`.directory` (people, orgs, spaces, apps), :mod:`.items`,
    :mod:`.writes` (API writes, comments, files), :mod:`.oauth` (credentials, rate limits),
    :mod:`.hooks` (webhooks); this class adds the
    clock, the id counters, the request log and seeding, and holds everything's state.
    """

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
        self.client_secret: str = client_secret
        self.client_name = "Django Podio (fake)"
        #: Other Podio API clients (``add_client``): client_id -> (secret, name).
        self.other_clients: dict[str, tuple[str, str]] = {}
        self.access_token_ttl = access_token_ttl
        self.strict_rotation = strict_rotation
        self.seed = seed
        self.rate_limit_general = 1000
        self.rate_limit_limited = 250
        self.rate_limit_login = 60
        #: Seconds per rate-limit window (Podio's hour; shorter to run a budget test quickly).
        self.rate_limit_window: float = HOUR
        #: What the authorize page does, ``"auto"`` (approve at once), ``"deny"`` (refuse) or
        #: ``"consent"`` (show an Allow/Deny page, as a browser test needs).
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
            "hook": 300001,
        }
        self.users: dict[int, FakeUser] = {}
        self.orgs: dict[int, FakeOrg] = {}
        self.spaces: dict[int, FakeSpace] = {}
        self.apps: dict[int, FakeApp] = {}
        self._item_index: dict[int, int] = {}  # item_id -> app_id
        self._deleted_items: set[int] = set()
        self._odd_items: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
        #: app_id -> (query, ...) -> a rendered filter page (``filter_page``).
        self._page_cache: dict[int, dict[tuple[Any, ...], bytes]] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.codes: dict[str, AuthCode] = {}
        self._current_user_id: int | None = None
        self._default_space_id: int | None = None
        self._rate_counts: dict[tuple[Any, ...], int] = {}
        self.refresh_grants_used = 0
        #: Client secrets and app tokens replaced by ``rotate_client_secret`` and
        #: ``rotate_app_token``: refused from then on, still in ``issued_secrets()``.
        self.retired_secrets: list[str] = []
        self._log: list[RecordedRequest] = []
        self._init_hooks()
        self._init_writes()

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

    # ------------------------------------------------------------------ request log
    def _record(self, entry: RecordedRequest) -> None:
        with self._lock:
            self._log.append(entry)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._log)

    def requests_to(self, path_prefix: str, method: str | None = None) -> list[RecordedRequest]:
        """The logged requests whose path starts with ``path_prefix`` (and of ``method``)."""
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
