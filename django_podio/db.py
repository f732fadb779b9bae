"""Short, committed database work that stays correct on SQLite, PostgreSQL and MariaDB/MySQL.

Two rules live here, and every service that writes follows them:

* **No transaction or lock is held while Podio is asked.** Work that spans a request to Podio
  (a token refresh, an item sync, a webhook event) is *claimed* with a **lease**: one short
  committed conditional ``UPDATE`` that writes an owner token and an expiry on the row, valid
  only if no live lease is there. The holder then calls Podio with no transaction open and
  writes its result with an ``UPDATE`` fenced on its own owner token (:func:`release`). A
  holder that dies leaves a lease that simply expires. This works on every database, behind
  transaction poolers (PgBouncer) and on every OS, where advisory locks, ``SELECT … FOR
  UPDATE`` held across the call, or lock files do not.
* **A read-then-write transaction takes the write lock first** (:func:`write_atomic`): SQLite
  has one write lock for the whole database and no row locks; a transaction that reads first
  and writes later fails *at once* with "database is locked" when another connection committed
  in between.
* **Nothing of ours joins the caller's transaction** (:func:`run_outside_callers_transaction`):
  inside ``atomic()``/``ATOMIC_REQUESTS`` our work runs on a connection of its own, which waits
  at most :data:`LOCK_TIMEOUT` for a row lock, so a caller holding one of our rows cannot hang
  it forever.

Leases use the application's clock; hosts are assumed to agree within a few seconds (NTP),
far less than any lease's length.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from . import statements

T = TypeVar("T")

#: Seconds one of our statements waits for a row lock another transaction holds. Our own
#: transactions hold row locks for a few statements at most, so this only ends real deadlocks,
#: such as a caller whose own transaction holds the row while our work runs on a connection of
#: its own (which the database's deadlock detector cannot see).
LOCK_TIMEOUT = 60

#: The default lease columns (see :class:`django_podio.models.PodioConnection`).
OWNER_FIELD = "lease_owner"
EXPIRES_FIELD = "lease_expires_at"


def vendor(using: str = DEFAULT_DB_ALIAS) -> str:
    return connections[using].vendor


def is_sqlite(using: str = DEFAULT_DB_ALIAS) -> bool:
    return vendor(using) == "sqlite"


# Transactions -----------------------------------------------------------------------------


def in_callers_transaction(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether a commit made on this thread's connection now could still be rolled back.

    Test transactions (pytest-django's and ``TestCase``'s wrapping ``atomic``) do not count:
    Django itself treats them so for ``durable=True``.
    """
    connection = connections[using]
    if connection.in_atomic_block:
        return any(
            not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks
        )
    return not connection.get_autocommit()


def run_outside_callers_transaction(func: Callable[[], T], using: str = DEFAULT_DB_ALIAS) -> T:
    """Run ``func`` so that what it commits stays committed whatever the caller's transaction does.

    Inside a caller's ``atomic()`` (or ``ATOMIC_REQUESTS``) our writes would be part of the
    caller's transaction: rolled back with it, and (worse) holding row locks of ours for as
    long as the caller's request lasts, Podio round trips included. So there ``func`` runs in a
    short-lived thread, whose database connection is its own and in autocommit, and which is
    closed afterwards. Outside any transaction this is just a call.
    """
    if not in_callers_transaction(using):
        return func()
    outcome: dict[str, object] = {}

    def target() -> None:
        _own_thread.active = True
        try:
            outcome["value"] = func()
        except BaseException as error:  # handed to the caller's thread below
            outcome["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=target, name="django-podio-own-connection")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def bound_lock_wait(using: str = DEFAULT_DB_ALIAS, seconds: float | None = None) -> None:
    """Inside ``atomic()`` on a connection of our own: wait at most ``seconds`` for a row lock.

    Only our own threads' connections (:func:`run_outside_callers_transaction`) need it: there
    a caller's transaction may hold the row we wait for, a deadlock no database can see.
    PostgreSQL's setting is transaction-scoped (``SET LOCAL``): a session setting would stay on
    a pooled server connection behind PgBouncer and reach other clients. MariaDB/MySQL has no
    transaction-scoped form; the thread's connection is closed when the thread ends.
    """
    connection = connections[using]
    seconds = LOCK_TIMEOUT if seconds is None else seconds
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{int(seconds * 1000)}ms'")
    elif connection.vendor == "mysql":
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION innodb_lock_wait_timeout = %s", [max(1, int(seconds))])


def _on_own_connection() -> bool:
    return bool(getattr(_own_thread, "active", False))


_own_thread = threading.local()


def take_write_lock(using: str = DEFAULT_DB_ALIAS) -> None:
    """Call first thing inside ``atomic()``: on SQLite, hold the write lock from now on.

    (Row locks on PostgreSQL and MariaDB/MySQL do this job by themselves.) Raises
    ``OperationalError`` (a ``DatabaseError``) when the lock cannot be had in time; nothing
    has been written then.
    """
    connection = connections[using]
    if connection.vendor == "sqlite":
        # A write that changes nothing still takes the database's write (RESERVED) lock.
        from .models import PodioConnection

        table = connection.ops.quote_name(PodioConnection._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET id = id WHERE 0")  # noqa: S608 - our table name  # nosec B608


@contextmanager
def write_atomic(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """``transaction.atomic()`` for a read-then-write critical section (see the module doc).

    Never wrap a request to Podio in it.
    """
    with transaction.atomic(using=using):
        take_write_lock(using)
        if _on_own_connection():
            bound_lock_wait(using)
        yield


# Leases -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lease:
    """A claim on one or more rows: the owner token written on them, and until when it holds."""

    owner: str
    expires_at: datetime
    count: int = 1

    def __bool__(self) -> bool:
        return self.count > 0


def new_owner() -> str:
    """A lease owner token: random, so a stale holder can never match a newer lease."""
    return secrets.token_hex(16)


def free(now: datetime | None = None, *, expires: str = EXPIRES_FIELD) -> Q:
    """Rows no live lease holds: never leased, released, or whose holder's lease ran out.

    (A lease is written and cleared with its expiry, so the expiry alone tells.)
    """
    now = now or timezone.now()
    return Q(**{f"{expires}__isnull": True}) | Q(**{f"{expires}__lt": now})


def held_by(lease: Lease | str, *, owner: str = OWNER_FIELD) -> Q:
    return Q(**{owner: lease.owner if isinstance(lease, Lease) else lease})


def _committed(using: str, write: Callable[[], int]) -> int:
    """One ``UPDATE`` in autocommit: committed when it returns, whatever happens next."""
    if in_callers_transaction(using):
        raise RuntimeError(
            "django-podio's leases are committed at once: run this outside the caller's "
            "transaction (django_podio.db.run_outside_callers_transaction)"
        )
    if _on_own_connection():  # a caller's transaction may hold the row: bound the wait
        with transaction.atomic(using=using):
            bound_lock_wait(using)
            return write()
    return write()


def _committed_update(queryset: QuerySet[Any], values: dict[str, Any]) -> int:
    return _committed(queryset.db, lambda: queryset.update(**values))


def claim(
    queryset: QuerySet[Any],
    seconds: float,
    *,
    now: datetime | None = None,
    owner_field: str = OWNER_FIELD,
    expires_field: str = EXPIRES_FIELD,
    **changes: Any,
) -> Lease | None:
    """Lease every row of ``queryset`` that no live lease holds; ``None`` when none was free.

    ``queryset`` carries the caller's own conditions (still due, still the version read), so
    the claim is also the check: no read-then-write race. ``changes`` are written with it.
    The rows claimed are the ones now holding the returned lease's owner token.
    """
    now = now or timezone.now()
    lease = Lease(new_owner(), now + timedelta(seconds=seconds))
    count = _committed_update(
        queryset.filter(free(now, expires=expires_field)),
        {owner_field: lease.owner, expires_field: lease.expires_at, **changes},
    )
    if not count:
        return None
    return Lease(lease.owner, lease.expires_at, count)


def renew(
    queryset: QuerySet[Any],
    lease: Lease,
    seconds: float,
    *,
    owner_field: str = OWNER_FIELD,
    expires_field: str = EXPIRES_FIELD,
    **changes: Any,
) -> Lease | None:
    """Extend a lease still held (a heartbeat); ``None`` when it was lost meanwhile."""
    expires_at = timezone.now() + timedelta(seconds=seconds)
    count = _committed_update(
        queryset.filter(held_by(lease, owner=owner_field)),
        {expires_field: expires_at, **changes},
    )
    return Lease(lease.owner, expires_at, count) if count else None


def release(
    queryset: QuerySet[Any],
    lease: Lease | str,
    *,
    owner_field: str = OWNER_FIELD,
    expires_field: str = EXPIRES_FIELD,
    fence: Q | None = None,
    **changes: Any,
) -> int:
    """Write ``changes`` and clear the lease, only on rows still held by ``lease``.

    ``fence`` widens the condition (``held_by(lease) | fence``): e.g. a refresh whose lease ran
    out may still store its new pair if nobody has written a newer one since.
    Returns how many rows were written: 0 means the lease was lost and nothing was written.
    """
    condition = held_by(lease, owner=owner_field)
    if fence is not None:
        condition |= fence
    return _committed_update(
        queryset.filter(condition),
        {owner_field: "", expires_field: None, **changes},
    )


# One row by primary key: the same leases through precompiled statements (hot paths) -------


def claim_row(
    model: type[Model],
    pk: Any,
    seconds: float,
    *,
    where: Mapping[str, Any],
    using: str = DEFAULT_DB_ALIAS,
    now: datetime | None = None,
) -> Lease | None:
    """:func:`claim` for one row by primary key, its conditions equalities (``where``).

    The same committed conditional ``UPDATE``, built once (:mod:`django_podio.statements`):
    the refresh claims a row per token, and the ORM's compiling on every call was a large
    part of its CPU.
    """
    return claim_rows(model, [{"pk": pk}], seconds, where=where, using=using, now=now)


def claim_rows(
    model: type[Model],
    rows: Sequence[Mapping[str, Any]],
    seconds: float,
    *,
    where: Mapping[str, Any] | None = None,
    using: str = DEFAULT_DB_ALIAS,
    now: datetime | None = None,
    owner: str | None = None,
) -> Lease | None:
    """:func:`claim` for rows each named by its own equalities (``{"pk": 3, "token_version":
    7}``: that row, only while it still holds that version), all of them also matching
    ``where``, in one committed ``UPDATE``. ``Lease.count`` says how many were claimed.

    ``owner`` (from :func:`new_owner`) lets a caller interrupted before this returns still
    give back what the ``UPDATE`` committed."""
    now = now or timezone.now()
    lease = Lease(owner or new_owner(), now + timedelta(seconds=seconds))
    clauses: list[statements.Clause] = [
        statements.Eq(name, value) for name, value in (where or {}).items()
    ]
    clauses.append(
        statements.AnyOf.of([statements.IsNull(EXPIRES_FIELD)], [statements.Lt(EXPIRES_FIELD, now)])
    )
    clauses.append(
        statements.AnyOf.of(*([statements.Eq(n, v) for n, v in row.items()] for row in rows))
    )
    count = _committed(
        using,
        lambda: statements.update_where(
            model, using, {OWNER_FIELD: lease.owner, EXPIRES_FIELD: lease.expires_at}, clauses
        ),
    )
    return Lease(lease.owner, lease.expires_at, count) if count else None


def release_row(
    model: type[Model],
    pk: Any,
    lease: Lease,
    *,
    where: Mapping[str, Any] | None = None,
    fence: Mapping[str, Any] | None = None,
    using: str = DEFAULT_DB_ALIAS,
    **changes: Any,
) -> int:
    """:func:`release` for one row by primary key: ``changes`` written and the lease cleared
    where the row still holds ``lease`` (or matches every equality of ``fence``) and every
    equality of ``where``. A :class:`~django_podio.statements.Add` value increments."""
    alternatives = [[statements.Eq(OWNER_FIELD, lease.owner)]]
    if fence:
        alternatives.append([statements.Eq(name, value) for name, value in fence.items()])
    return _committed(
        using,
        lambda: statements.update_by_pk(
            model,
            pk,
            using,
            {OWNER_FIELD: "", EXPIRES_FIELD: None, **changes},
            all_of=[statements.Eq(name, value) for name, value in (where or {}).items()],
            any_of=alternatives,
        ),
    )
