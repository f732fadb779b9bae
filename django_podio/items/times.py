"""Times for item filters: reading ``--since`` and writing Podio's filter format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

# How far before the previous run's start ``since="last"`` looks: covers clock skew between
# us and Podio and edits made while that run was starting.
SINCE_MARGIN = timedelta(minutes=5)


#: The earliest ``since`` accepted: Podio holds nothing older, and earlier dates only reach
#: the ends of the calendar, where converting between time zones overflows.
EARLIEST_SINCE = datetime(1970, 1, 1, tzinfo=UTC)
#: How far ahead of now a ``since`` may lie (a local time written without its offset and read
#: as UTC); anything later is a typo that would silently select nothing.
SINCE_SLACK = timedelta(days=1)


def parse_since(text: str) -> datetime:
    """An aware UTC datetime from ISO 8601 or Podio's ``YYYY-MM-DD HH:MM:SS`` (taken as UTC).

    A bare date means its midnight, UTC. Raises ``ValueError`` (never ``OverflowError``) for
    text that is not a time, or a time before 1970 or after tomorrow: a command line that
    names the ends of the calendar gets a message, not a traceback.
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise ValueError(
            f"Cannot read {text!r} as a date and time: use ISO 8601 "
            "(2024-05-01T12:00:00Z) or 'YYYY-MM-DD HH:MM:SS' (UTC)."
        ) from None
    except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00 is past the end of the calendar
        moment = None
    latest = datetime.now(UTC) + SINCE_SLACK
    if moment is None or not EARLIEST_SINCE <= moment <= latest:
        raise ValueError(
            f"{text!r} is out of range: a time between {EARLIEST_SINCE:%Y-%m-%d} and "
            f"{latest:%Y-%m-%d} (UTC) is expected."
        )
    return moment


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken to be UTC already, like Podio's own timestamps."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def podio_time(moment: datetime) -> str:
    """Podio's filter format: UTC, ``YYYY-MM-DD HH:MM:SS``, no zone suffix."""
    return as_utc(moment).strftime("%Y-%m-%d %H:%M:%S")


def since_filter(since: datetime | None) -> dict[str, Any] | None:
    return None if since is None else {"last_edit_on": {"from": podio_time(since)}}
