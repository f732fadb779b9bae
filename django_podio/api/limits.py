"""The rate limit last seen, shared with every process through Django's ``default`` cache.

Each client tracks Podio's ``X-Rate-Limit-Limit``/``X-Rate-Limit-Remaining`` for itself
(``PodioClient.rate_limit``), but the operator asks another process (``podio_status``, the
admin). So the transport hands every pair it sees to :func:`record`, which keeps it in the
cache, the store the package already uses for app definitions; a database row would put a
write, and on SQLite the database's one write lock, on the path of Podio calls.

Not every answer is written: a process writes at most once per :data:`RECORD_INTERVAL`
seconds, except when the limit differs from the one it wrote last (another pool: Podio's
general one, its "rate limited" one, the token endpoint's), the pair is low (under a tenth of
the limit left) or Podio refused a call (420): those are written at once, because they are
what the operator looks for. The figure is therefore "last seen, give or take
:data:`RECORD_INTERVAL` seconds of the same pool". A cache that fails only loses the figure;
the request it came with goes on. With a per-process cache (``LocMemCache``, Django's default)
other processes see nothing: the status says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from ..redaction import get_logger

__all__ = ["RECORD_INTERVAL", "RateLimitSeen", "last_seen", "record"]

logger = get_logger("django_podio.api")

#: Seconds between two writes of an ordinary pair by one process.
RECORD_INTERVAL = 10.0
#: Cache keys and how long an entry lives (Podio's window is an hour; a week of silence
#: means nothing is seen).
SEEN_KEY = "django_podio:rate_limit:seen"
REFUSED_KEY = "django_podio:rate_limit:refused"
KEEP = 7 * 24 * 3600

# When this process last wrote, and the limit it wrote (a pool: general, "rate limited",
# the token endpoint's). Threads may race on it; the worst outcome is one extra write.
_last: tuple[float, int | None] | None = None


@dataclass(frozen=True)
class RateLimitSeen:
    """The last ``(limit, remaining)`` any process recorded, when, and the last 420's time."""

    limit: int | None
    remaining: int | None
    seen_at: datetime | None
    refused_at: datetime | None


def _cache() -> Any:
    from django.core.cache import caches

    return caches["default"]


def is_low(limit: int | None, remaining: int | None) -> bool:
    """Under a tenth of the limit left (or none): worth writing at once."""
    if remaining is None:
        return False
    return remaining == 0 or (limit is not None and remaining * 10 < limit)


def record(limit: int | None, remaining: int | None, *, refused: bool = False) -> None:
    """Note a pair Podio sent (``refused``: with a 420), unless this process wrote lately."""
    global _last
    now = time.monotonic()
    due = (
        refused
        or _last is None
        or _last[1] != limit
        or is_low(limit, remaining)
        or now - _last[0] >= RECORD_INTERVAL
    )
    if not due:
        return
    _last = (now, limit)
    stamp = timezone.now().isoformat()
    values: dict[str, Any] = {}
    if limit is not None or remaining is not None:
        values[SEEN_KEY] = {"limit": limit, "remaining": remaining, "at": stamp}
    if refused:
        values[REFUSED_KEY] = {"at": stamp}
    try:
        _cache().set_many(values, KEEP)
    except Exception as error:  # the figure is not worth a failed request
        logger.debug("Could not record the rate limit (%s)", type(error).__name__)


def forget() -> None:
    """Drop this process's memory of its last write (tests; a fresh process)."""
    global _last
    _last = None


def _when(entry: Any) -> datetime | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("at"), str):
        return None
    try:
        return datetime.fromisoformat(entry["at"])
    except ValueError:
        return None


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def last_seen() -> RateLimitSeen | None:
    """What was recorded, or ``None`` when nothing was (or the cache cannot be read)."""
    try:
        entries = _cache().get_many([SEEN_KEY, REFUSED_KEY])
    except Exception as error:  # a status page must not fail on its cache
        logger.debug("Could not read the rate limit (%s)", type(error).__name__)
        return None
    seen, refused = entries.get(SEEN_KEY), entries.get(REFUSED_KEY)
    if not isinstance(seen, dict) and refused is None:
        return None
    seen = seen if isinstance(seen, dict) else {}
    return RateLimitSeen(
        limit=_number(seen.get("limit")),
        remaining=_number(seen.get("remaining")),
        seen_at=_when(seen),
        refused_at=_when(refused),
    )


def cache_is_per_process() -> bool:
    """Whether the ``default`` cache lives in each process (other processes' figures unseen)."""
    from django.core.cache.backends.dummy import DummyCache
    from django.core.cache.backends.locmem import LocMemCache

    return isinstance(_cache(), (LocMemCache, DummyCache))
