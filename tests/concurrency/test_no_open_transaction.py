"""No database transaction or lock is open while a request to Podio is in flight, on any path.

Every path that talks to Podio runs here with the fake answering slowly (so each request is in
flight for a while) and :mod:`tests.txwatch` asking the database server, as each request
arrives and again as it is answered, which sessions sat in an open transaction (or, on SQLite,
held the write lock) across it. Idle-transaction timeouts, transaction poolers and SQLite's
single writer all punish such a transaction; none may be found.
"""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection as db
from django.db import transaction
from django.test import Client
from django.utils import timezone

from django_podio import get_client, hooks, items, tasks, tokens
from django_podio.hooks.receive import store_delivery
from django_podio.models import PodioConnection, PodioHook, PodioItem

from ..conftest import login_with_podio
from ..txwatch import backend_id, watch

pytestmark = [pytest.mark.django_db(transaction=True)]

LATENCY = 0.25


@pytest.fixture
def watched(fake):
    fake.latency = LATENCY
    observer = watch(fake)
    yield observer
    fake.observers.remove(observer)
    assert observer.looks, "the watch saw no request: the test did not reach Podio"
    assert observer.violations == []


def due(connection: PodioConnection) -> PodioConnection:
    PodioConnection.objects.filter(pk=connection.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    return PodioConnection.objects.get(pk=connection.pk)


@pytest.fixture
def login(fake):
    fake.latency = 0
    login_with_podio(Client())
    return PodioConnection.objects.get()


@pytest.fixture
def app(fake):
    app = fake.add_app(name="Projects")
    fake.add_items(app.app_id, 30)
    tokens.store_app_connection(app.app_id, app.app_token)
    return app


def test_refresh_before_use_and_after_a_401(fake, login, watched):
    client = get_client(connection=due(login))  # refreshed before use
    client.get("/user/status")
    fake.expire_access_tokens()  # Podio refuses the stored token: refresh and replay
    client.get("/user/status")
    assert PodioConnection.objects.get(pk=login.pk).token_version == login.token_version + 2


def test_cron_and_the_refresh_tasks(fake, login, watched):
    due(login)
    assert tokens.refresh_due(concurrency=4).refreshed == 1
    due(login)
    tasks.refresh_connection.enqueue(login.pk)  # the immediate backend runs it here
    assert PodioConnection.objects.get(pk=login.pk).expires_at > timezone.now()
    due(login)
    call_command("podio_refresh", "--concurrency", "2", stdout=StringIO())
    assert PodioConnection.objects.get(pk=login.pk).token_version == login.token_version + 3


def test_app_auth_and_the_item_sync(fake, watched):
    app = fake.add_app(name="Projects")
    fake.add_items(app.app_id, 1200)
    tokens.store_app_connection(app.app_id, app.app_token)
    client = get_client(app_id=app.app_id)
    report = items.fetch_items(client, app.app_id, store=True)
    assert report.ok and report.created == 1200
    tasks.sync_app.enqueue(app.app_id)  # since the last sync
    out = StringIO()
    call_command("podio_fetch_items", str(app.app_id), "--app", "--store", "--json", stdout=out)
    assert json.loads(out.getvalue())["ok"]


def test_webhook_registration_and_processing(fake, app, podio_settings, watched):
    podio_settings(WEBHOOK_BASE_URL="http://127.0.0.1:9")  # deliveries go nowhere
    connection = PodioConnection.objects.get(app_id=app.app_id)
    with fake.held_deliveries():
        report = hooks.sync_hooks(get_client(app_id=app.app_id), connection, app.app_id)
    assert report.ok and len(report.created) == 3
    hook = PodioHook.objects.get(event_type="item.update")
    item_id = fake.add_item(app.app_id, fields={"title": "Changed"})["item_id"]
    store_delivery(
        hook,
        {
            "type": "item.update",
            "hook_id": str(hook.hook_id),
            "item_id": str(item_id),
            "item_revision_id": "1",
        },
    )
    processed = hooks.process_pending()
    assert processed.done == 1 and PodioItem.objects.filter(item_id=item_id).exists()


def test_a_callers_atomic_requests_transaction_is_the_callers_only(fake, login, settings):
    """Under ATOMIC_REQUESTS the view's own transaction is open (the host chose it); the
    refresh runs on a connection of its own, which holds nothing open while Podio answers."""
    fake.latency = LATENCY
    stale = due(login)  # (on SQLite a write here would hold the caller's write lock)
    with transaction.atomic():
        caller = backend_id(db)
        observer = watch(fake, allowed={caller} if caller is not None else set())
        try:
            client = get_client(connection=stale)
            client.get("/user/status")
        finally:
            fake.observers.remove(observer)
    assert observer.looks and observer.violations == []
    assert PodioConnection.objects.get(pk=login.pk).expires_at > timezone.now()
