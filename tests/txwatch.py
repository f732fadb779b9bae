"""Watch the database from the fake's side while each request to Podio is in flight.

The rule under test: no database transaction or lock is open while a request to Podio is in
flight. The fake calls :class:`TransactionWatch` as each request arrives and again just before
it answers (after its latency); the watch asks the database server itself, on a connection of
its own, which sessions sat in an open transaction across that whole interval:

* PostgreSQL: ``pg_stat_activity`` sessions of the test database ``idle in transaction`` at
  both looks, with the same transaction start (what ``idle_in_transaction_session_timeout``
  kills, and what breaks behind a transaction pooler);
* MariaDB/MySQL: ``information_schema.innodb_trx`` transactions of sleeping sessions, the same
  transaction id at both looks;
* SQLite: the database's write lock held at both looks (what starves every other writer).

Sessions listed in ``allowed`` (a caller's own ``ATOMIC_REQUESTS`` transaction, which is the
host's choice) are ignored. Nothing of the code under test is patched: the only seam is the
network, as everywhere in the suite.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any

from django.db import connection as django_connection


def backend_id(connection: Any = django_connection) -> Any:
    """The server-side id of a Django connection's session (to allow a caller's transaction)."""
    connection.ensure_connection()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_backend_pid()")
        elif connection.vendor == "mysql":
            cursor.execute("SELECT CONNECTION_ID()")
        else:
            return None
        return cursor.fetchone()[0]


@dataclass
class TransactionWatch:
    settings: dict[str, Any]
    vendor: str
    allowed: set[Any] = field(default_factory=set)
    violations: list[str] = field(default_factory=list)
    looks: int = 0

    def __post_init__(self) -> None:
        self._local = threading.local()
        self._first: dict[int, Any] = {}
        self._lock = threading.Lock()

    # The fake's observer ---------------------------------------------------------------
    def __call__(self, request: Any, phase: str) -> None:
        key = id(request)
        snapshot = self._snapshot()
        with self._lock:
            self.looks += 1
            if phase == "received":
                self._first[key] = snapshot
                return
            before = self._first.pop(key, None)
        if before is None:
            return
        held = set(before) & set(snapshot)
        held -= {k for k in held if k[0] in self.allowed}
        if held:
            with self._lock:
                self.violations.append(
                    f"{request.method} {request.path}: open across the request: {sorted(held)}"
                )

    # Per vendor ------------------------------------------------------------------------
    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _connect(self) -> Any:
        s = self.settings
        if self.vendor == "postgresql":
            import psycopg

            return psycopg.connect(
                dbname=s["NAME"],
                user=s.get("USER") or "postgres",
                password=s.get("PASSWORD") or None,
                host=s.get("HOST") or None,
                port=s.get("PORT") or None,
                autocommit=True,
                # Behind PgBouncer (transaction pooling) a prepared statement would outlive its
                # pooled server session: none (psycopg prepares a query run five times).
                prepare_threshold=None,
            )
        if self.vendor == "mysql":
            import MySQLdb  # type: ignore[import-not-found]

            return MySQLdb.connect(
                db=s["NAME"],
                user=s.get("USER") or "root",
                passwd=s.get("PASSWORD") or "",
                host=s.get("HOST") or "127.0.0.1",
                port=int(s.get("PORT") or 3306),
                autocommit=True,
            )
        return sqlite3.connect(s["NAME"], timeout=0, isolation_level=None)

    def _snapshot(self) -> set[tuple[Any, Any]]:
        conn = self._connection()
        if self.vendor == "postgresql":
            rows = conn.execute(
                "SELECT pid, xact_start FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%%'"
            ).fetchall()
            return {(pid, started) for pid, started in rows}
        if self.vendor == "mysql":
            cursor = conn.cursor()
            cursor.execute(
                "SELECT t.trx_mysql_thread_id, t.trx_id FROM information_schema.innodb_trx t "
                "JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id "
                "WHERE p.command = 'Sleep' AND p.id <> CONNECTION_ID()"
            )
            return {(thread, trx) for thread, trx in cursor.fetchall()}
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # "database is locked": another writer holds it
            return {("sqlite", "write lock")}
        conn.execute("ROLLBACK")
        return set()


def watch(fake: Any, *, allowed: set[Any] | None = None) -> TransactionWatch:
    """Start watching every request the fake serves from now on."""
    settings = dict(django_connection.settings_dict)
    observer = TransactionWatch(settings, django_connection.vendor, allowed or set())
    fake.observers.append(observer)
    return observer
