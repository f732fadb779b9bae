"""Apps: an app's field definitions, fetched once and cached, for the value encoder.

A write checks every value against the app's fields before it is sent
(:mod:`django_podio.encoding`), so it needs the app's definition; fetching it per write would
double the requests. Definitions live in Django's ``default`` cache (shared by every worker
process when the host configures a shared cache) for ``APP_CACHE_TIMEOUT`` seconds, keyed by
``API_URL`` and app id, and are dropped

* on demand: :func:`forget_app`, ``client.forget_app(app_id)`` or ``get_app(app_id,
  refresh=True)``;
* when Podio reports a changed app: an ``app.update`` or ``app.delete`` webhook (processed
  by :mod:`django_podio.hooks`), and a write Podio refused with 400 although our check passed
  (a field or option removed since);
* when a value does not fit a definition older than :attr:`AppsAPI.app_refetch_after`
  seconds: the definition is fetched again once before the value is refused (a field or
  option added in Podio since).

The app token Podio includes for elevated API keys (``token``) is never cached or returned.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import conf
from ..encoding import encode_fields
from ..exceptions import InvalidFieldValue, ServerError

if TYPE_CHECKING:
    from .shape import ClientShape
else:
    ClientShape = object

CACHE_PREFIX = "django_podio:app:v1"
#: Keys of ``GET /app/{id}`` that are credentials, not definitions.
SECRET_KEYS = frozenset({"token"})


def cache_key(app_id: int, api_url: str | None = None) -> str:
    origin = (api_url or conf.get("API_URL")).rstrip("/")
    digest = hashlib.sha256(origin.encode()).hexdigest()[:16]
    return f"{CACHE_PREFIX}:{digest}:{int(app_id)}"


def _cache() -> Any:
    from django.core.cache import caches

    return caches["default"]


def forget_app(app_id: int, *, api_url: str | None = None) -> None:
    """Drop an app's cached definition: the next write fetches it again."""
    _cache().delete(cache_key(app_id, api_url))


def cached_app(app_id: int, *, api_url: str | None = None) -> tuple[dict[str, Any], float] | None:
    """``(definition, fetched at (epoch seconds))`` when cached, else ``None``."""
    entry = _cache().get(cache_key(app_id, api_url))
    if not isinstance(entry, dict) or "app" not in entry:
        return None
    return entry["app"], float(entry.get("fetched_at") or 0)


class AppsAPI(ClientShape):
    #: Seconds after which a value that does not fit a cached definition makes the client
    #: fetch the definition again before refusing it.
    app_refetch_after: float = 60.0

    def get_app(self, app_id: int, *, refresh: bool = False) -> dict[str, Any]:
        """The app's definition (``fields`` with each field's type, settings, label …),
        from the cache when it holds one; ``refresh`` fetches it again."""
        return self._app_definition(app_id, refresh=refresh)[0]

    def forget_app(self, app_id: int) -> None:
        """Drop the app's cached definition (see :func:`forget_app`)."""
        forget_app(app_id, api_url=self.api_url)

    def _app_definition(
        self, app_id: int, *, refresh: bool = False
    ) -> tuple[dict[str, Any], float, bool]:
        """``(definition, fetched at, whether it came from the cache)``."""
        if not refresh:
            cached = cached_app(app_id, api_url=self.api_url)
            if cached is not None:
                return cached[0], cached[1], True
        app = self.get(f"/app/{int(app_id)}")
        if not isinstance(app, dict) or not isinstance(app.get("fields"), list):
            raise ServerError(
                description="the app's definition has no fields list",
                method="GET",
                path=f"/app/{int(app_id)}",
            )
        app = {key: value for key, value in app.items() if key not in SECRET_KEYS}
        fetched_at = time.time()
        timeout = conf.get("APP_CACHE_TIMEOUT")
        if timeout:
            entry = {"app": app, "fetched_at": fetched_at}
            _cache().set(cache_key(app_id, self.api_url), entry, timeout)
        return app, fetched_at, False

    def _encode_fields(self, app_id: int, fields: Mapping[Any, Any]) -> dict[str, Any]:
        """``fields`` encoded for the app, against its cached definition; a value that does
        not fit a definition older than ``app_refetch_after`` is tried once more against a
        fresh one (the field or option may be new) before it is refused."""
        app, fetched_at, from_cache = self._app_definition(app_id)
        try:
            return encode_fields(app, fields)
        except InvalidFieldValue:
            if not from_cache or time.time() - fetched_at < self.app_refetch_after:
                raise
        app = self._app_definition(app_id, refresh=True)[0]
        return encode_fields(app, fields)


__all__ = ["AppsAPI", "forget_app"]
