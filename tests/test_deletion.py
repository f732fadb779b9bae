"""Deleting what owns a Podio connection, on every database.

A user connection always has its user (the ``podio_conn_kind_owner`` check). Django's
``CASCADE`` on a nullable foreign key first sets it to NULL when the database cannot defer
constraint checks (MariaDB/MySQL), which that check refuses: deleting the user failed there.
"""

from __future__ import annotations

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from django_podio.models import PodioConnection, PodioHook
from tests.factories import make_connection, make_user

pytestmark = pytest.mark.django_db


def connection_with_account(username: str) -> PodioConnection:
    user = make_user(username)
    account = SocialAccount.objects.create(user=user, provider="podio", uid=f"uid-{username}")
    connection = make_connection(user, social_account=account)
    PodioHook.objects.create(
        app_id=1, connection=connection, event_type="item.create", secret_hash=username * 4
    )
    return connection


def writes_to_connections(queries: CaptureQueriesContext) -> list[str]:
    table = db.ops.quote_name(PodioConnection._meta.db_table)
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith(f"UPDATE {table} ")]


def test_deleting_a_user_deletes_the_connection_without_nulling_its_owner():
    connection = connection_with_account("ada")
    other = connection_with_account("grace")
    with CaptureQueriesContext(db) as queries:
        get_user_model().objects.filter(pk=connection.user_id).delete()
    assert writes_to_connections(queries) == []
    assert list(PodioConnection.objects.values_list("pk", flat=True)) == [other.pk]
    assert not SocialAccount.objects.filter(user_id=connection.user_id).exists()
    # The hook outlives the connection it was registered with, as designed (SET_NULL).
    hook = PodioHook.objects.get(secret_hash="ada" * 4)
    assert hook.connection_id is None


def test_deleting_every_user_at_once():
    for name in ("ada", "grace", "alan"):
        connection_with_account(name)
    app = PodioConnection.objects.create(
        kind=PodioConnection.Kind.APP, app_id=42, access_token="app-access"
    )
    get_user_model().objects.all().delete()
    assert list(PodioConnection.objects.all()) == [app]


def test_deleting_the_social_account_deletes_the_connection():
    connection = connection_with_account("ada")
    with CaptureQueriesContext(db) as queries:
        SocialAccount.objects.filter(pk=connection.social_account_id).delete()
    assert writes_to_connections(queries) == []
    assert not PodioConnection.objects.exists()
    assert get_user_model().objects.filter(pk=connection.user_id).exists()
