"""What the parts of the fake's state may use of one another, spelled out for type checkers.

:class:`~.state.PodioState` is assembled from mixins (:mod:`.directory`, :mod:`.items`,
:mod:`.oauth`, :mod:`.hooks`) that call each other's methods and share the attributes
``PodioState.__init__`` sets. Each mixin names :class:`StateShape` as its base only while type
checking (at run time the base is ``object``), so a misspelt attribute or a changed
signature in one part is an error in every part that uses it.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from .records import (
    AccessToken,
    AuthCode,
    FakeApp,
    FakeItem,
    FakeOrg,
    FakeSpace,
    FakeUser,
    RefreshToken,
)


class StateShape(Protocol):
    # Set by PodioState.__init__.
    _lock: threading.RLock
    client_id: str
    client_secret: str
    client_name: str
    other_clients: dict[str, tuple[str, str]]
    access_token_ttl: int
    strict_rotation: bool
    seed: int
    rate_limit_general: int
    rate_limit_limited: int
    rate_limit_login: int
    rate_limit_window: float
    users: dict[int, FakeUser]
    orgs: dict[int, FakeOrg]
    spaces: dict[int, FakeSpace]
    apps: dict[int, FakeApp]
    _item_index: dict[int, int]
    _deleted_items: set[int]
    _odd_items: dict[int, tuple[dict[str, Any], dict[str, Any]]]
    _page_cache: dict[int, dict[tuple[Any, ...], bytes]]
    tokens: dict[str, AccessToken]
    refresh_tokens: dict[str, RefreshToken]
    codes: dict[str, AuthCode]
    _rate_counts: dict[tuple[Any, ...], int]
    refresh_grants_used: int
    retired_secrets: list[str]
    _ids: dict[str, int]

    # PodioState
    def now(self) -> float: ...
    def _next_id(self, kind: str, wanted: int | None = None) -> int: ...

    # DirectoryState
    @property
    def current_user(self) -> FakeUser: ...
    @current_user.setter
    def current_user(self, user: FakeUser | int) -> None: ...
    def user_by_mail(self, mail: str) -> FakeUser | None: ...
    def _user_by_profile(self, profile_id: int) -> FakeUser | None: ...
    def get_app(self, app_id: int) -> FakeApp: ...
    def _complete_field(self, spec: dict[str, Any], delta: int = 0) -> dict[str, Any]: ...
    def _byline(self, ref: tuple[str, int]) -> dict[str, Any]: ...
    def _profile(self, user: FakeUser) -> dict[str, Any]: ...
    def _space_json(self, space: FakeSpace) -> dict[str, Any]: ...
    def _app_link(self, app: FakeApp) -> str: ...
    def _app_mini(self, app: FakeApp) -> dict[str, Any]: ...

    # ItemState
    def _ref_of(self, created_by: Any) -> tuple[str, int]: ...
    @staticmethod
    def _via() -> dict[str, Any]: ...
    def _field(self, app: FakeApp, key: Any) -> dict[str, Any]: ...
    def get_item(self, item_id: int) -> FakeItem: ...
    def item_json(self, item: FakeItem) -> dict[str, Any]: ...
    def _title(self, app: FakeApp, item: FakeItem) -> str: ...
    def _items_changed(self, app_id: int) -> None: ...
    def _normalize(self, app: FakeApp, f: dict[str, Any], raw: Any) -> list[Any]: ...
    def _normalize_date(self, value: Any) -> dict[str, str | None]: ...
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
        hook: bool = True,
    ) -> FakeItem: ...

    # WriteState
    def _normalize_written(self, ftype: str, value: Any) -> Any: ...
    def _render_written(self, ftype: str, entry: Any) -> dict[str, Any] | None: ...
    def comments_of(self, item_id: int) -> list[dict[str, Any]]: ...

    # HookState
    def _item_event(self, event_type: str, item: FakeItem) -> None: ...
    def _enqueue_event(self, event_type: str, app_id: int, form: dict[str, str]) -> None: ...
    def hook_secrets(self) -> set[str]: ...
