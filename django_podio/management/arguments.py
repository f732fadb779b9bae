"""Argument types of the ``podio_*`` commands: every number and time is range-checked.

Each function is an argparse ``type=``: it turns the text into a value or raises
``argparse.ArgumentTypeError`` with a message for the operator. So an id beyond what the
database can hold, a negative count, ``nan`` or the ends of the calendar are a usage error
(``CommandError`` from ``call_command``), never an ``OverflowError`` deep in a query.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from django.core.management.base import CommandError

from ..items import parse_since

T = TypeVar("T")

#: Podio's ids are stored in 64-bit columns (``BigIntegerField``): nothing larger exists.
MAX_ID = 2**63 - 1
#: ``podio_refresh --within``: a year. Podio's access tokens live 8 hours, so any window past
#: that already takes every connection; a larger one can only be a typo.
MAX_WITHIN = 366 * 24 * 3600
#: ``podio_refresh --concurrency``: each refresh thread holds a database connection.
MAX_REFRESH_CONCURRENCY = 32
#: ``podio_fetch_items --concurrency``: pages in flight at once.
MAX_FETCH_CONCURRENCY = 8

_DIGITS = re.compile(r"[+-]?[0-9]{1,30}")


def _whole_number(text: str) -> int | None:
    """ASCII digits only (no ``1e3``, ``nan``, ``inf``, ``1_000`` or other scripts' digits)."""
    value = text.strip()
    return int(value) if _DIGITS.fullmatch(value) else None


def bounded_int(low: int, high: int, what: str) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        number = _whole_number(text)
        if number is None or not low <= number <= high:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {what}: a whole number from {low:,} to {high:,} is expected"
            )
        return number

    parse.__name__ = what  # argparse names the type in some messages
    return parse


#: A Podio id (app, hook): 1 to the largest 64-bit integer.
podio_id = bounded_int(1, MAX_ID, "a Podio id")
within_seconds = bounded_int(0, MAX_WITHIN, "a window in seconds")
refresh_concurrency = bounded_int(1, MAX_REFRESH_CONCURRENCY, "a number of parallel refreshes")
fetch_concurrency = bounded_int(1, MAX_FETCH_CONCURRENCY, "a number of pages in flight")


def since(text: str) -> datetime:
    """An argparse type: a time for ``--since`` (see :func:`django_podio.items.parse_since`)."""
    try:
        return parse_since(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def since_or_last(text: str) -> datetime | str:
    """``--since`` of ``podio_fetch_items``: a time, or ``last`` (the previous sync)."""
    return "last" if text.strip() == "last" else since(text)


def checked(option: str, parse: Callable[[str], T], value: Any) -> T:
    """``value`` through the argument type ``parse``, as a ``CommandError``.

    ``call_command("podio_refresh", within=10**12)`` hands keyword arguments to the command
    without parsing them, and a default may come from a setting: ``handle`` checks what it
    uses once more, with the same rule. A value that was parsed passes unchanged.
    """
    try:
        return parse(value.isoformat() if isinstance(value, datetime) else str(value))
    except argparse.ArgumentTypeError as error:
        raise CommandError(f"{option}: {error}") from None
