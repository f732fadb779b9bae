"""``PodioClient``: authenticated calls to the Podio API.

The client holds one access token and knows nothing about the database; whoever builds it
(normally :func:`django_podio.get_client`) passes a ``refresh`` callable that takes the token
Podio refused and returns a fresh one; the client calls it once when Podio answers 401
``expired_token`` or ``invalid_token`` and replays the request once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests

from .. import conf
from ..exceptions import InvalidToken, PodioError, TokenExpired
from .transport import Transport


class PodioClient:
    def __init__(
        self,
        access_token: str,
        *,
        refresh: Callable[[str], str] | None = None,
        api_url: str | None = None,
        transport: Transport | None = None,
        **transport_options: Any,
    ) -> None:
        self._access_token = access_token
        self._refresh = refresh
        self.api_url = (api_url or conf.get("API_URL")).rstrip("/")
        self.transport = transport or Transport(**transport_options)

    def __repr__(self) -> str:
        return f"<PodioClient {self.api_url} rate_limit={self.rate_limit}>"

    def __enter__(self) -> PodioClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()

    @property
    def rate_limit(self) -> tuple[int | None, int | None] | None:
        """``(limit, remaining)`` from the last response that carried Podio's headers."""
        return self.transport.rate_limit

    @property
    def session(self) -> requests.Session:
        return self.transport.session

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"OAuth2 {self._access_token}"}

    def _on_unauthorized(self, error: Exception) -> Mapping[str, str] | None:
        if self._refresh is None or not isinstance(error, (TokenExpired, InvalidToken)):
            return None
        if isinstance(error, InvalidToken) and error.error not in (None, "invalid_token"):
            return None
        self._access_token = self._refresh(self._access_token)
        return self._auth_headers()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        safe: bool | None = None,
    ) -> Any:
        url = (
            path
            if path.startswith(("http://", "https://"))
            else self.api_url + "/" + path.lstrip("/")
        )
        response = self.transport.send(
            method,
            url,
            params=params,
            json=json,
            headers=self._auth_headers(),
            safe=safe,
            on_unauthorized=self._on_unauthorized,
        )
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any = None, *, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("POST", path, json=json, params=params)

    def put(self, path: str, json: Any = None, *, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("PUT", path, json=json, params=params)

    def delete(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("DELETE", path, params=params)

    # Podio resources -------------------------------------------------------------------

    def get_user_status(self) -> dict[str, Any]:
        return self.get("/user/status")

    def get_item(self, item_id: int, *, mark_as_viewed: bool = False) -> dict[str, Any]:
        """One item. Background reads must not mark the user's notifications as read."""
        params = {"mark_as_viewed": "true" if mark_as_viewed else "false"}
        return self.get(f"/item/{int(item_id)}", params=params)

    def get_item_by_external_id(self, app_id: int, external_id: str) -> dict[str, Any]:
        from urllib.parse import quote

        return self.get(f"/item/app/{int(app_id)}/external_id/{quote(str(external_id), safe='')}")

    def filter_items(self, app_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """One page of ``POST /item/app/{id}/filter/``: a read, so it is retried like a GET."""
        return self.request("POST", f"/item/app/{int(app_id)}/filter/", json=dict(body), safe=True)

    def iter_items(
        self,
        app_id: int,
        *,
        filters: Mapping[str, Any] | None = None,
        sort_by: str | None = None,
        sort_desc: bool = False,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every item of an app matching ``filters``, page after page, in constant memory.

        Sorted by ``item_id`` unless told otherwise, so an item edited while we page does not
        move between pages.
        """
        limit = int(page_size or conf.get("PAGE_SIZE"))
        if not 1 <= limit <= 500:
            raise ValueError("page_size must be between 1 and 500 (Podio's largest page)")
        offset = 0
        while True:
            body: dict[str, Any] = {
                "limit": limit,
                "offset": offset,
                "sort_by": sort_by or "item_id",
                "sort_desc": bool(sort_desc),
            }
            if filters:
                body["filters"] = dict(filters)
            page = self.filter_items(app_id, body)
            items = page.get("items") or []
            yield from items
            offset += len(items)
            filtered = page.get("filtered")
            if not items or (isinstance(filtered, int) and offset >= filtered):
                return


__all__ = ["PodioClient", "PodioError"]
