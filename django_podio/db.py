"""Transactions that read, then write: correct on SQLite as on PostgreSQL.

SQLite has one write lock for the whole database and no row locks (``select_for_update()`` is
a no-op there). A transaction that reads first and writes later fails *at once* with "database
is locked" when another connection committed in between, busy timeout or not: SQLite cannot
let it write on top of the stale snapshot it read. So on SQLite, a transaction of ours that
will write takes the write lock with its first statement; it then waits (up to the busy
``timeout``) instead of failing, and reads the latest commit. On PostgreSQL the row locks do
the work and these helpers only bound the wait.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections, transaction

#: Seconds a PostgreSQL transaction of ours waits for a row lock before giving up. Holders keep
#: a lock for one Podio request at most, so this only ends real deadlocks, such as a caller
#: whose own transaction holds the row while our work runs on a connection of its own (which
#: PostgreSQL's deadlock detector cannot see).
LOCK_TIMEOUT = 60


def is_sqlite(using: str = DEFAULT_DB_ALIAS) -> bool:
    return connections[using].vendor == "sqlite"


def take_write_lock(using: str = DEFAULT_DB_ALIAS, *, lock_timeout: float | None = None) -> None:
    """Call first thing inside ``atomic()``: on SQLite, hold the write lock from now on.

    Raises ``OperationalError`` (a ``DatabaseError``) when the lock cannot be had in time;
    nothing has been written then.
    """
    connection = connections[using]
    if connection.vendor == "sqlite":
        # A write that changes nothing still takes the database's write (RESERVED) lock.
        from .models import PodioConnection

        table = connection.ops.quote_name(PodioConnection._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET id = id WHERE 0")  # noqa: S608 - our table name  # nosec B608
    elif connection.vendor == "postgresql":
        seconds = LOCK_TIMEOUT if lock_timeout is None else lock_timeout
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{int(seconds * 1000)}ms'")


@contextmanager
def write_atomic(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """``transaction.atomic()`` for a read-then-write critical section (see the module doc)."""
    with transaction.atomic(using=using):
        take_write_lock(using)
        yield
