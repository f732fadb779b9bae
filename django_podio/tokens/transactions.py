"""The refresh's own transaction: one no caller can contain, on every database we support.

Podio rotates the refresh token on every refresh, so the new pair must be committed the moment
Podio has answered. Two things could stop that, and this module answers both:

* **The caller's transaction.** Inside ``atomic()`` (or ``ATOMIC_REQUESTS``) our block would be
  a savepoint, rolled back with the caller's work. So when the caller is in a transaction, the
  critical section runs on a connection of its own (a short-lived thread: Django's connections
  are per thread) and commits there, whatever the caller does next.
* **SQLite's locking.** SQLite has no row locks and ``SELECT … FOR UPDATE`` is a no-op there; a
  deferred transaction that reads first and writes later fails at once with "database is
  locked" when another connection has written meanwhile. So on SQLite the critical section
  *writes first*, which takes the database's write lock before Podio is asked (waiting up to
  the busy timeout): refreshes serialize, and a lock we cannot get costs nothing.

Test transactions (pytest-django's and ``TestCase``'s wrapping ``atomic``) are not a caller's
transaction: Django itself treats them so for ``durable=True``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, connections

T = TypeVar("T")


def in_callers_transaction(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether a commit made on this thread's connection now could still be rolled back."""
    connection = connections[using]
    if connection.in_atomic_block:
        return any(
            not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks
        )
    return not connection.get_autocommit()


def run_outside_callers_transaction(func: Callable[[], T], using: str = DEFAULT_DB_ALIAS) -> T:
    """Run ``func`` so that what it commits stays committed whatever the caller's transaction does.

    Outside any transaction that is just a call. Inside one, ``func`` runs in a thread with its
    own database connection, which is closed afterwards.
    """
    if not in_callers_transaction(using):
        return func()
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = func()
        except BaseException as error:  # handed to the caller's thread below
            outcome["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=target, name="django-podio-own-transaction")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
