"""Leak scanning: every place a secret could land, searched for every secret the fake issued."""

from __future__ import annotations

from django.apps import apps
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection


def database_dump() -> str:
    """Every column of every row of every table, as the database holds it (raw, undecrypted)."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")  # noqa: S608 - table names from introspection
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def sessions_dump() -> str:
    """Decoded session data (the raw column is signed base64, which would hide a token)."""
    store = SessionStore()
    return "\n".join(repr(store.decode(s.session_data)) for s in Session.objects.all())


def find_leaks(secrets: set[str], **texts: str) -> dict[str, list[str]]:
    leaks = {}
    for where, text in texts.items():
        found = sorted(s[:6] + "…" for s in secrets if s and s in text)
        if found:
            leaks[where] = found
    return leaks


def all_models_loaded() -> int:
    return len(apps.get_models())
