"""``PodioClient``: authenticated calls to the Podio API.

The client holds one access token and knows nothing about the database; whoever builds it
(normally :func:`django_podio.get_client`) passes a ``refresh`` callable that takes the token
Podio refused and returns a fresh one; the client calls it once when Podio answers 401
``expired_token`` or ``invalid_token`` and replays the request once.

Two rules keep the access token where it belongs:

- it is sent only to ``API_URL``'s origin (scheme, host and port). A caller may pass an
  absolute URL (say, a link found in item data); one on any other origin raises
  :class:`ForeignURL` before anything is sent;
- it is never a local variable of a frame that an error report can render (Django's DEBUG
  page and ``AdminEmailHandler(include_html=True)`` print every frame's locals, and
  ``sensitive_variables`` only works with ``DEBUG`` off): it travels inside an auth object
  whose ``repr`` is masked, and our exceptions are re-raised from the client's own
  frame, so the frames below it (transport, a refresh after a 401, the token endpoint) are
  not in its traceback.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import requests

from .. import conf
from ..exceptions import DjangoPodioError, InvalidToken, PodioError, TokenExpired
from .apps import AppsAPI
from .comments import CommentsAPI
from .embeds import EmbedsAPI
from .files import FilesAPI
from .items import ItemWrites, WriteObserver, external_id_path
from .transport import Transport, without_frames

DEFAULT_PORTS = {"http": 80, "https": 443}


class ForeignURL(ValueError):
    """An absolute URL outside ``API_URL``'s origin: the client will not send its token there."""


def origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` with the scheme's default port filled in, for comparisons."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a non-numeric or out-of-range port
        port = -1
    return scheme, (parts.hostname or "").lower(), port or DEFAULT_PORTS.get(scheme)


class OAuth2Auth(requests.auth.AuthBase):
    """Adds ``Authorization: OAuth2 <token>`` as the request is prepared; ``repr`` is masked.

    The token lives here rather than in a headers dict so that no frame's locals (ours or
    requests') hold it in plain sight. requests applies it once per request and drops the
    header on a redirect to another host.
    """

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"OAuth2 {self.token}"
        return request

    def __repr__(self) -> str:
        return "<OAuth2Auth [redacted]>"


class PodioClient(ItemWrites, AppsAPI, FilesAPI, CommentsAPI, EmbedsAPI):
    """Calls to Podio: the core here, one mixin per endpoint family (writes of items, apps,
    files, comments, embeds; ``django_podio/api/shape.py`` says what a family may use).

    ``observer`` hears of every item write Podio accepted (:func:`django_podio.get_client`
    passes the item cache's, so cached lists follow the site's own writes).
    """

    def __init__(
        self,
        access_token: str,
        *,
        refresh: Callable[[str], str] | None = None,
        api_url: str | None = None,
        transport: Transport | None = None,
        observer: WriteObserver | None = None,
        **transport_options: Any,
    ) -> None:
        self._auth = OAuth2Auth(access_token)
        self._refresh = refresh
        self.api_url = (api_url or conf.get("API_URL")).rstrip("/")
        self._origin = origin(self.api_url)
        self.transport = transport or Transport(**transport_options)
        self.observer = observer
        self._item_apps: dict[int, int] = {}  # item id -> app id, for encoding updates

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

    def _on_unauthorized(self, error: Exception) -> Mapping[str, str] | None:
        if self._refresh is None or not isinstance(error, (TokenExpired, InvalidToken)):
            return None
        if isinstance(error, InvalidToken) and error.error not in (None, "invalid_token"):
            return None
        self._auth.token = self._refresh(self._auth.token)
        return {}  # replay: the auth object now carries the fresh token

    def url_for(self, path: str) -> str:
        """The URL for ``path``: relative to ``API_URL``, or absolute on ``API_URL``'s origin.

        Anything with a scheme (or starting with ``//``) counts as absolute, and an absolute
        URL must have exactly the API's scheme, host and port and no user info; otherwise
        :class:`ForeignURL` is raised, before any request.
        """
        parts = urlsplit(path)
        if not parts.scheme and not path.startswith("//"):
            return self.api_url + "/" + path.lstrip("/")
        if origin(path) != self._origin or parts.username is not None or "\\" in path:
            scheme, host, port = origin(path)
            raise ForeignURL(
                f"PodioClient sends its credentials only to {self.api_url}; refusing "
                f"{scheme}://{host}:{port}. Fetch other URLs without the Podio client."
            )
        return path

    def _send(self, method: str, url: str, *, on_unauthorized: bool = True, **options: Any) -> Any:
        try:
            return self.transport.send(
                method,
                url,
                auth=self._auth,
                on_unauthorized=self._on_unauthorized if on_unauthorized else None,
                **options,
            ).podio_data  # type: ignore[attr-defined]
        except DjangoPodioError as error:
            # Ours (a Podio answer, or a local fault such as DecryptionError during the
            # refresh after a 401): re-raised from this frame, so the traceback no longer
            # shows the frames below, whose locals held credentials.
            cause = error.__cause__
            raise error.with_traceback(None) from (cause and without_frames(cause))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        safe: bool | None = None,
    ) -> Any:
        return self._send(method, self.url_for(path), params=params, json=json, safe=safe)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any = None, *, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("POST", path, json=json, params=params)

    def put(self, path: str, json: Any = None, *, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("PUT", path, json=json, params=params)

    def delete(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("DELETE", path, params=params)

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
    ) -> Any:
        """A typed write of an endpoint family: sent once (``safe`` ones, whose repetition
        is harmless, are retried like reads), refreshed and replayed once on a 401, and a
        420 waited out like a read's: Podio refused it before doing anything."""
        return self._send(
            method,
            self.url_for(path),
            json=json,
            params=params,
            files=files,
            data=data,
            safe=safe,
            wait_refused=True,
        )

    # Podio resources -------------------------------------------------------------------

    def get_user_status(self) -> dict[str, Any]:
        return self.get("/user/status")

    def get_item(self, item_id: int, *, mark_as_viewed: bool = False) -> dict[str, Any]:
        """One item. Background reads must not mark the user's notifications as read."""
        params = {"mark_as_viewed": "true" if mark_as_viewed else "false"}
        item = self.get(f"/item/{int(item_id)}", params=params)
        self._remember_item(item)
        return item

    def get_item_by_external_id(self, app_id: int, external_id: str) -> dict[str, Any]:
        item = self.get(external_id_path(app_id, external_id))
        self._remember_item(item)
        return item

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
        concurrency: int = 1,
        after_item_id: int | None = None,
        start_offset: int = 0,
    ) -> ItemStream:
        """Every item of an app matching ``filters``, each exactly once, in constant memory.

        Podio only pages by offset, so an item deleted while we page shifts every later item
        one place to the left and a naive loop skips one. Consecutive pages therefore overlap
        by one item: when a page does not start with an item already seen, the pages in
        between moved and we step back until they overlap again. Items are sorted by
        ``item_id`` unless told otherwise, so edits never move an item and new items arrive
        at the end.

        With ``concurrency`` > 1, up to that many later pages are fetched in parallel once the
        first page has told how many items there are; items still come out in order, and at
        most ``concurrency`` + 1 pages are held at a time.

        ``after_item_id`` (ascending ``item_id`` order only) skips items up to that id and
        ``start_offset`` says where they probably end: together they resume an interrupted
        run without fetching the pages before it again. A wrong guess costs requests, never
        items.

        The returned iterator's ``total`` and ``filtered`` hold Podio's latest counts (after
        the first item), and ``pages`` the number of filter calls made.
        """
        limit = int(page_size or conf.get("PAGE_SIZE"))
        if not 1 <= limit <= 500:
            raise ValueError("page_size must be between 1 and 500 (Podio's largest page)")
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
        sort_key = sort_by or "item_id"
        if after_item_id is not None and (sort_key != "item_id" or sort_desc):
            raise ValueError("after_item_id needs the default ascending item_id order")
        body: dict[str, Any] = {"limit": limit, "sort_by": sort_key, "sort_desc": bool(sort_desc)}
        if filters:
            body["filters"] = dict(filters)
        if sort_key == "item_id":
            seen: _Seen = _KeysetSeen(descending=bool(sort_desc), last=after_item_id)
        else:
            seen = _RecentSeen(keep=4 * limit)
        stream = ItemStream()
        stream._generator = self._paged_items(
            app_id, body, stream, seen, concurrency, max(0, int(start_offset))
        )
        return stream

    def _fetch_page(
        self, app_id: int, body: Mapping[str, Any], *, in_worker: bool
    ) -> dict[str, Any]:
        if not in_worker:
            return self.filter_items(app_id, body)
        # Worker threads never refresh the token: the refresh callable may use the database,
        # which belongs to the caller's thread. A page refused with 401 is fetched again by the
        # caller (see _page_result), which refreshes once and replays.
        return self._send(
            "POST",
            f"{self.api_url}/item/app/{int(app_id)}/filter/",
            json=dict(body),
            safe=True,
            on_unauthorized=False,
        )

    def _page_result(
        self, future: Future[dict[str, Any]], app_id: int, body: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            return future.result()
        except (TokenExpired, InvalidToken):
            return self._fetch_page(app_id, body, in_worker=False)

    def _paged_items(
        self,
        app_id: int,
        body: dict[str, Any],
        stream: ItemStream,
        seen: _Seen,
        concurrency: int,
        offset: int,
    ) -> Iterator[dict[str, Any]]:
        limit = body["limit"]
        overlap = 1 if limit > 1 else 0
        step = limit - overlap
        back = step  # how far to step back when pages do not overlap; doubles each time
        executor: ThreadPoolExecutor | None = None
        ahead: deque[tuple[int, Future[dict[str, Any]]]] = deque()

        def fetch(at: int) -> dict[str, Any]:
            stream.pages += 1
            return self._fetch_page(app_id, {**body, "offset": at}, in_worker=False)

        def prefetch(next_offset: int) -> None:
            nonlocal executor
            if executor is None:
                executor = ThreadPoolExecutor(concurrency, thread_name_prefix="podio-items")
            while len(ahead) < concurrency and next_offset < (stream.filtered or 0):
                stream.pages += 1
                page_body = {**body, "offset": next_offset}
                ahead.append(
                    (
                        next_offset,
                        executor.submit(self._fetch_page, app_id, page_body, in_worker=True),
                    )
                )
                next_offset += step

        def drop_prefetched() -> None:
            for _, future in ahead:
                if future.cancel():
                    stream.pages -= 1  # never sent
            ahead.clear()

        try:
            page = fetch(offset)
            while True:
                stream._update(page)
                items = page.get("items") or []
                first_seen = bool(items) and seen.has(items[0])
                if offset > 0 and overlap and not first_seen and not seen.empty:
                    # Items before this offset vanished (or the resume hint overshot): the
                    # items between the last one seen and this page may sit further left.
                    drop_prefetched()
                    filtered = stream.filtered or 0
                    offset = max(0, min(offset - back, filtered - 1))
                    back *= 2
                    page = fetch(offset)
                    continue
                back = step
                for item in items:
                    if not seen.has(item):
                        seen.add(item)
                        yield item
                if not items or len(items) < limit or offset + len(items) >= (stream.filtered or 0):
                    return
                offset += step
                if ahead and ahead[0][0] != offset:
                    drop_prefetched()
                if concurrency > 1:
                    prefetch(ahead[-1][0] + step if ahead else offset)
                if ahead:
                    _, future = ahead.popleft()
                    page = self._page_result(future, app_id, {**body, "offset": offset})
                    if concurrency > 1:
                        prefetch(ahead[-1][0] + step if ahead else offset + step)
                else:
                    page = fetch(offset)
        finally:
            drop_prefetched()
            if executor is not None:
                # In-flight pages finish (at most ``concurrency`` requests); none starts after.
                executor.shutdown(wait=True, cancel_futures=True)


MAX_CONCURRENCY = 8  # requests' connection pool keeps 10 connections per host


class ItemStream(Iterator[dict[str, Any]]):
    """The iterator ``iter_items`` returns: items, plus Podio's counts as paging goes."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.filtered: int | None = None
        self.pages = 0
        self._generator: Iterator[dict[str, Any]] = iter(())

    def __next__(self) -> dict[str, Any]:
        return next(self._generator)

    def close(self) -> None:
        """Stop paging early: pending pages are dropped, in-flight ones awaited."""
        close = getattr(self._generator, "close", None)
        if close is not None:
            close()

    def _update(self, page: Mapping[str, Any]) -> None:
        if isinstance(page.get("total"), int):
            self.total = page["total"]
        if isinstance(page.get("filtered"), int):
            self.filtered = page["filtered"]


def _item_id(item: Any) -> int | None:
    """The item's id, or None for an odd item: paging passes it on for the caller to judge."""
    try:
        return int(item["item_id"])
    except (TypeError, KeyError, ValueError):
        return None


class _Seen:
    """Which items the paging has passed, so overlaps are skipped and gaps noticed."""

    empty: bool

    def has(self, item: Mapping[str, Any]) -> bool:
        raise NotImplementedError

    def add(self, item: Mapping[str, Any]) -> None:
        raise NotImplementedError


class _KeysetSeen(_Seen):
    """Ordered by item_id: everything up to the last id yielded has been seen. O(1) memory."""

    def __init__(self, *, descending: bool, last: int | None) -> None:
        self.descending = descending
        self.last = last
        self.empty = last is None

    def has(self, item: Mapping[str, Any]) -> bool:
        item_id = _item_id(item)
        if self.last is None or item_id is None:
            return False
        return item_id >= self.last if self.descending else item_id <= self.last

    def add(self, item: Mapping[str, Any]) -> None:
        item_id = _item_id(item)
        if item_id is not None:
            self.last = item_id
        self.empty = False


class _RecentSeen(_Seen):
    """Any other order: remember the last few pages' ids (bounded, so memory stays flat)."""

    def __init__(self, *, keep: int) -> None:
        self.keep = keep
        self.ids: dict[int, None] = {}
        self.empty = True

    def has(self, item: Mapping[str, Any]) -> bool:
        return _item_id(item) in self.ids

    def add(self, item: Mapping[str, Any]) -> None:
        item_id = _item_id(item)
        if item_id is not None:
            self.ids[item_id] = None
        self.empty = False
        if len(self.ids) > self.keep:
            del self.ids[next(iter(self.ids))]


__all__ = ["ForeignURL", "PodioClient", "PodioError"]
