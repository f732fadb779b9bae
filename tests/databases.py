"""The test suite's databases: ``DATABASE_URL`` to ``DATABASES`` and back again.

The suite runs on a SQLite file (no ``DATABASE_URL``), on PostgreSQL
(``postgres://user:pw@host:5432/name``), on PostgreSQL behind PgBouncer in transaction pooling
mode (``pgbouncer://user@host:6432/name``) and on MariaDB/MySQL
(``mysql://user:pw@host:3306/name``). Tests that start processes (concurrency races, task
workers, commands) give them :func:`child_env`: the same settings, pointed at the parent's test
database. One place knows how, for every vendor.

No Django import at module level: ``tests.settings`` imports this module.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any
from urllib.parse import quote, unquote, urlsplit

POSTGRES_SCHEMES = ("postgres", "postgresql")
PGBOUNCER_SCHEME = "pgbouncer"
PGBOUNCER_ENGINE = "tests.backends.pgbouncer"
MYSQL_SCHEMES = ("mysql", "mariadb")


def sqlite_settings(path: str | None = None) -> dict[str, Any]:
    """A file database, as users run SQLite (an in-memory one hides locking: one writer at a
    time, readers blocking commits without WAL). Child processes of the concurrency tests get
    the parent's test database file as ``SQLITE_PATH``."""
    default_test_file = os.path.join(
        tempfile.gettempdir(), f"django_podio_tests_{os.getpid()}.sqlite3"
    )
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path or default_test_file,
        "TEST": {"NAME": os.environ.get("SQLITE_TEST_NAME") or default_test_file},
        # What the docs tell every SQLite user to set (check django_podio.W004).
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "timeout": 20,
        },
    }


def database_settings(url: str) -> dict[str, Any]:
    """The ``DATABASES["default"]`` entry for ``url`` (empty: the SQLite file)."""
    if not url:
        return sqlite_settings(os.environ.get("SQLITE_PATH"))
    parts = urlsplit(url)
    if parts.query:
        raise ValueError(f"DATABASE_URL takes no parameters: {parts.query!r}")
    if parts.scheme in (*POSTGRES_SCHEMES, PGBOUNCER_SCHEME):
        entry: dict[str, Any] = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "postgres",
            "USER": unquote(parts.username or "postgres"),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "127.0.0.1",
            "PORT": str(parts.port or 5432),
        }
        if parts.scheme == PGBOUNCER_SCHEME:
            # What Django needs behind a transaction pooler (PgBouncer's pool_mode =
            # transaction): no server-side cursor (QuerySet.iterator() opens one that would
            # outlive its transaction's server session), and no state kept in the session
            # (Django's defaults: client-side parameter binding, so no prepared statements).
            entry["ENGINE"] = PGBOUNCER_ENGINE
            entry["PORT"] = str(parts.port or 6432)
            entry["DISABLE_SERVER_SIDE_CURSORS"] = True
    elif parts.scheme in MYSQL_SCHEMES:
        entry = {
            "ENGINE": "django.db.backends.mysql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or "root"),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "127.0.0.1",
            "PORT": str(parts.port or 3306),
            # What Django's MySQL notes recommend: 4-byte UTF-8 and strict mode (without it
            # MySQL truncates or mangles bad data with a warning instead of raising). The
            # isolation level stays Django's default, READ COMMITTED.
            "OPTIONS": {"charset": "utf8mb4", "init_command": "SET sql_mode='STRICT_TRANS_TABLES'"},
            "TEST": {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"},
        }
    else:
        raise ValueError(f"Unsupported DATABASE_URL scheme {parts.scheme!r}")
    return entry


def database_url(entry: dict[str, Any]) -> str:
    """The ``DATABASE_URL`` that :func:`database_settings` turns back into ``entry``
    (PostgreSQL and MariaDB/MySQL; a SQLite file travels as ``SQLITE_PATH``)."""
    engine = entry["ENGINE"]
    if engine == PGBOUNCER_ENGINE:
        scheme = PGBOUNCER_SCHEME
    elif engine == "django.db.backends.postgresql":
        scheme = "postgres"
    elif engine == "django.db.backends.mysql":
        scheme = "mysql"
    else:
        raise ValueError(f"No DATABASE_URL for {engine}")
    user = quote(entry.get("USER") or "", safe="")
    password = entry.get("PASSWORD") or ""
    credentials = f"{user}:{quote(password, safe='')}" if password else user
    return (
        f"{scheme}://{credentials}@{entry['HOST']}:{entry['PORT']}/"
        f"{quote(str(entry['NAME']), safe='')}"
    )


def child_env(fake: Any = None, alias: str = "default") -> dict[str, str]:
    """Environment for a process that must use this test run's database (and fake Podio).

    Call it inside a test: the connection's ``NAME`` is then the test database's name.
    """
    from django.db import connections

    connection = connections[alias]
    env = {"DJANGO_SETTINGS_MODULE": "tests.settings"}
    if connection.vendor == "sqlite":
        env.update(SQLITE_PATH=str(connection.settings_dict["NAME"]), DATABASE_URL="")
    else:
        env["DATABASE_URL"] = database_url(connection.settings_dict)
    if fake is not None:
        env["PODIO_FAKE_URL"] = fake.url
    return env
