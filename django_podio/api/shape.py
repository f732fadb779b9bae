"""What an endpoint family may use of the client, spelled out for type checkers.

:class:`~django_podio.api.client.PodioClient` is the core (session, token, retries, 420
waits, refresh on 401, error mapping, redaction) plus one mixin per endpoint family
(:mod:`.items`, :mod:`.apps`, :mod:`.files`, :mod:`.comments`, :mod:`.embeds`). Each mixin
names :class:`ClientShape` as its base only while type checking (at run time the base is
``object``), as the fake's state parts do with ``StateShape``: a family calls ``self.get``
or ``self.write`` and gets every rule of the core for free.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .items import WriteObserver
    from .transport import Transport


class ClientShape(Protocol):
    api_url: str
    transport: Transport
    observer: WriteObserver | None
    _item_apps: dict[int, int]

    # The core (client.py)
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        safe: bool | None = None,
    ) -> Any: ...
    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any: ...
    def write(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        safe: bool = False,
    ) -> Any: ...
    def get_item(self, item_id: int, *, mark_as_viewed: bool = False) -> dict[str, Any]: ...
    def get_item_by_external_id(self, app_id: int, external_id: str) -> dict[str, Any]: ...
    def _remember_item(self, item: Any) -> None: ...

    # apps.py
    def get_app(self, app_id: int, *, refresh: bool = False) -> dict[str, Any]: ...
    def forget_app(self, app_id: int) -> None: ...
    def _encode_fields(self, app_id: int, fields: Mapping[Any, Any]) -> dict[str, Any]: ...

    # embeds.py
    def create_embed(self, url: str) -> dict[str, Any]: ...
