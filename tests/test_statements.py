"""The precompiled one-row statements read and write exactly what the ORM reads and writes.

Run on every database of the suite: the converters (SQLite's and MySQL's datetimes, the
encrypted fields), MySQL's matched-rows count and the parameter styles all differ by backend.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DEFAULT_DB_ALIAS, connection
from django.utils import timezone

from django_podio import db, statements
from django_podio.models import PodioConnection
from django_podio.statements import Add, Eq, IsNull, Lt
from tests.factories import make_connection

pytestmark = pytest.mark.django_db

CONCRETE = [f.attname for f in PodioConnection._meta.concrete_fields]


def raw_column(pk: int, column: str) -> str:
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(PodioConnection._meta.db_table)
        cursor.execute(
            f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE id = %s",  # noqa: S608
            [pk],
        )
        return cursor.fetchone()[0]


def test_select_by_pk_is_the_orms_row():
    made = make_connection(access="a-token", refresh="r-token", scope="global:all")
    read = statements.select_by_pk(PodioConnection, made.pk, DEFAULT_DB_ALIAS)
    orm = PodioConnection.objects.get(pk=made.pk)
    assert {name: getattr(read, name) for name in CONCRETE} == {
        name: getattr(orm, name) for name in CONCRETE
    }
    assert read.access_token == "a-token" and read.refresh_token == "r-token"
    assert timezone.is_aware(read.expires_at) and timezone.is_aware(read.created_at)
    assert read._state.adding is False and read._state.db == DEFAULT_DB_ALIAS
    assert statements.select_by_pk(PodioConnection, made.pk + 1000, DEFAULT_DB_ALIAS) is None


def test_update_by_pk_writes_through_the_fields_and_counts_matched_rows():
    made = make_connection()
    now = timezone.now()
    written = statements.update_by_pk(
        PodioConnection,
        made.pk,
        DEFAULT_DB_ALIAS,
        {"access_token": "new-access", "expires_at": now, "failure_count": Add(2)},
        all_of=[Eq("status", PodioConnection.Status.ACTIVE)],
        any_of=[[IsNull("lease_expires_at")], [Lt("lease_expires_at", now)]],
    )
    assert written == 1
    row = PodioConnection.objects.get(pk=made.pk)
    assert row.access_token == "new-access" and row.failure_count == 2
    assert abs(row.expires_at - now) < timedelta(seconds=1)
    stored = raw_column(made.pk, "access_token")
    assert "new-access" not in stored  # encrypted by the field, as the ORM would
    # The same values again: MySQL counts the row as matched (not "changed"), like the others.
    again = statements.update_by_pk(
        PodioConnection, made.pk, DEFAULT_DB_ALIAS, {"expires_at": row.expires_at}
    )
    assert again == 1
    # A condition that does not hold writes nothing.
    assert (
        statements.update_by_pk(
            PodioConnection,
            made.pk,
            DEFAULT_DB_ALIAS,
            {"scope": "x"},
            all_of=[Eq("token_version", made.token_version + 5)],
        )
        == 0
    )
    assert PodioConnection.objects.get(pk=made.pk).scope == ""


@pytest.mark.django_db(transaction=True)
def test_row_leases_exclude_each_other_and_fence_their_writes():
    made = make_connection()
    first = db.claim_row(PodioConnection, made.pk, 60, where={"token_version": 0})
    assert first
    assert db.claim_row(PodioConnection, made.pk, 60, where={"token_version": 0}) is None
    other = db.Lease("someone-else", first.expires_at)
    assert db.release_row(PodioConnection, made.pk, other, scope="lost") == 0
    # A fence lets a holder whose lease was taken still write while the version holds.
    assert db.release_row(PodioConnection, made.pk, other, fence={"token_version": 0}) == 1
    row = PodioConnection.objects.get(pk=made.pk)
    assert (row.lease_owner, row.lease_expires_at, row.scope) == ("", None, "")
    # An expired lease is free again.
    past = timezone.now() - timedelta(seconds=120)
    assert db.claim_row(PodioConnection, made.pk, 60, where={}, now=past)
    assert db.claim_row(PodioConnection, made.pk, 60, where={})
