"""Webhooks that never strand (issue 16): hooks that outlive their connection, events that
end, deletes that stay deleted. Podio is the fake; failures are injected at the database
(a trigger that refuses one item's row), never by replacing our code."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO

import pytest
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.db import connection as db_connection
from django.utils import timezone

from django_podio import hooks, items, signals, tokens
from django_podio.hooks.receive import store_delivery
from django_podio.hooks.secret import digest, hook_url, new_secret
from django_podio.models import PodioConnection, PodioHook, PodioHookEvent, PodioItem

from ..factories import podio_user_connection
from .conftest import LIGHT_FIELDS

pytestmark = [pytest.mark.django_db(transaction=True)]

Status = PodioHookEvent.Status


def user_connection(fake, django_user_model, username: str) -> PodioConnection:
    """A user who logged in with Podio (the fake lets every user read every app)."""
    return podio_user_connection(fake, username, expires_in=8 * 3600)


@pytest.fixture
def podio(fake, podio_settings):
    # Nothing listens there: the fake's deliveries to these hooks are refused at once.
    podio_settings(WEBHOOK_BASE_URL="http://127.0.0.1:9", MAX_RETRIES=0, HOOK_MAX_ATTEMPTS=3)
    fake.rate_limit_general = fake.rate_limit_limited = 10**6
    app = fake.add_app(name="Projects", fields=LIGHT_FIELDS)
    app.item_ids = fake.add_items(app.app_id, 5)
    fake.reset_log()
    return app


def hook_row(
    app_id: int,
    connection: PodioConnection | None,
    event_type: str = "item.update",
    *,
    at_podio: object = None,
) -> PodioHook:
    """A verified hook row; with ``at_podio`` (the fake) Podio holds it too, at our URL."""
    secret = new_secret()
    hook_id = PodioHook.objects.count() + 9000
    if at_podio is not None:
        made = at_podio.create_hook("app", app_id, hook_url(secret), event_type)
        made.status, made.code = "active", None
        hook_id = made.hook_id
    return PodioHook.objects.create(
        hook_id=hook_id,
        app_id=app_id,
        connection=connection,
        event_type=event_type,
        secret_hash=digest(secret),
        status=PodioHook.Status.ACTIVE,
    )


def deliver(hook: PodioHook, item: dict, kind: str = "item.update") -> PodioHookEvent:
    revision = item["current_revision"]["item_revision_id"] if "current_revision" in item else ""
    return store_delivery(
        hook,
        {
            "type": kind,
            "hook_id": str(hook.hook_id),
            "item_id": str(item["item_id"]),
            "item_revision_id": str(revision),
        },
    )


def process() -> dict:
    """``podio_hooks process --json``: the report, and whether the command failed (exit 1)."""
    out = StringIO()
    try:
        call_command("podio_hooks", "process", "--json", stdout=out, stderr=StringIO())
        failed = False
    except CommandError:
        failed = True
    return {**json.loads(out.getvalue()), "command_failed": failed}


def make_due(*events: PodioHookEvent) -> None:
    PodioHookEvent.objects.filter(pk__in=[e.pk for e in events]).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


@contextlib.contextmanager
def refused_row(item_id: int) -> Iterator[None]:
    """A trigger that makes the database refuse writing ``item_id``'s cache row."""
    table = PodioItem._meta.db_table
    vendor = db_connection.vendor
    with db_connection.cursor() as cursor:
        if vendor == "sqlite":
            cursor.execute(
                f"CREATE TRIGGER podio_refuse BEFORE INSERT ON {table} "
                f"WHEN NEW.item_id = {int(item_id)} BEGIN SELECT RAISE(ABORT, 'injected'); END"
            )
        elif vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION podio_refuse() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.item_id = {int(item_id)} THEN RAISE EXCEPTION 'injected'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER podio_refuse BEFORE INSERT OR UPDATE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION podio_refuse()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER podio_refuse BEFORE INSERT ON {table} FOR EACH ROW "
                f"BEGIN IF NEW.item_id = {int(item_id)} THEN "
                "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected'; END IF; END"
            )
    try:
        yield
    finally:
        with db_connection.cursor() as cursor:
            if vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS podio_refuse ON {table}")
                cursor.execute("DROP FUNCTION IF EXISTS podio_refuse()")
            else:
                cursor.execute("DROP TRIGGER IF EXISTS podio_refuse")


# A hook belongs to its app ------------------------------------------------------------------


def test_a_hook_whose_user_is_gone_is_served_by_the_apps_connection(podio, fake, django_user_model):
    alice = user_connection(fake, django_user_model, "alice")
    hook = hook_row(podio.app_id, alice)
    app_connection = tokens.store_app_connection(podio.app_id, podio.app_token)
    item_id = podio.item_ids[0]
    alice.user.delete()  # her connection goes with her; the hook's FK is set to NULL
    event = deliver(hook, {"item_id": item_id, "current_revision": {"item_revision_id": 1}})
    report = process()
    assert report["done"] == 1 and not report["command_failed"], report
    assert PodioItem.objects.filter(item_id=item_id).exists()
    assert PodioHookEvent.objects.get(pk=event.pk).status == Status.DONE
    hook.refresh_from_db()
    assert hook.connection_id == app_connection.pk and hook.orphaned_at is None


def test_an_orphaned_hook_waits_is_warned_about_and_is_re_homed_by_sync(
    podio, fake, django_user_model
):
    alice = user_connection(fake, django_user_model, "alice")
    bob = user_connection(fake, django_user_model, "bob")
    # Podio holds the hook (so sync keeps it); registered by Alice.
    hook = hook_row(podio.app_id, alice, at_podio=fake)
    item_id = podio.item_ids[0]
    alice.user.delete()
    event = deliver(hook, {"item_id": item_id})
    for _ in range(3):  # waiting counts no attempt: it never dies of having no connection
        report = process()
        make_due(event)
    event.refresh_from_db()
    assert report["failed"] == 1 and report["command_failed"]
    assert event.status == Status.FAILED and event.attempts == 0
    assert "No active Podio connection" in event.last_error
    assert PodioHook.objects.get(pk=hook.pk).orphaned_at is not None
    warnings = [m for m in run_checks(databases=["default"]) if m.id == "django_podio.W007"]
    assert len(warnings) == 1 and f"sync {podio.app_id} --user" in warnings[0].hint
    # Bob can read the app: sync re-homes the hook, and the waiting event is due at once.
    PodioHookEvent.objects.filter(pk=event.pk).update(
        next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    out = StringIO()
    call_command(
        "podio_hooks",
        "sync",
        str(podio.app_id),
        "--user",
        "bob",
        "--events",
        "item.update",
        "--json",
        stdout=out,
    )
    sync = json.loads(out.getvalue())
    assert sync["rehomed"] == 1 and sync["created"] == []
    hook.refresh_from_db()
    assert hook.connection_id == bob.pk and hook.orphaned_at is None
    assert not [m for m in run_checks(databases=["default"]) if m.id == "django_podio.W007"]
    assert process()["done"] == 1
    assert PodioItem.objects.filter(item_id=item_id).exists()


def test_deleting_a_hook_row_keeps_its_events_and_they_are_still_processed(podio, fake):
    app_connection = tokens.store_app_connection(podio.app_id, podio.app_token)
    hook = hook_row(podio.app_id, app_connection)
    event = deliver(hook, {"item_id": podio.item_ids[0]})
    hook.delete()  # as the admin's delete action does
    event.refresh_from_db()
    assert event.hook_id is None and event.app_id == podio.app_id
    assert process()["done"] == 1
    assert PodioItem.objects.filter(item_id=podio.item_ids[0]).exists()


# Every event ends ---------------------------------------------------------------------------


def test_a_database_error_mid_pass_is_recorded_and_the_pass_goes_on(podio, fake):
    app_connection = tokens.store_app_connection(podio.app_id, podio.app_token)
    hook = hook_row(podio.app_id, app_connection)
    first, second, third = podio.item_ids[:3]
    events = [deliver(hook, {"item_id": i}) for i in (first, second, third)]
    with refused_row(second):
        report = process()
    assert report["command_failed"] and report["done"] == 2 and report["failed"] == 1
    refused = PodioHookEvent.objects.get(pk=events[1].pk)
    assert refused.status == Status.FAILED and refused.attempts == 1
    assert "injected" in refused.last_error and refused.next_attempt_at > timezone.now()
    assert refused.claimed_by == ""  # not left "processing" until a claim expires
    assert set(PodioItem.objects.values_list("item_id", flat=True)) == {first, third}


def test_a_poison_event_ends_dead_after_the_attempts_and_can_be_replayed(podio, fake):
    app_connection = tokens.store_app_connection(podio.app_id, podio.app_token)
    hook = hook_row(podio.app_id, app_connection)
    item_id = podio.item_ids[0]
    event = deliver(hook, {"item_id": item_id})
    dead: list[int] = []

    def on_dead(sender, event, **kwargs):
        dead.append(event.pk)

    signals.hook_event_dead.connect(on_dead)
    try:
        with refused_row(item_id):
            for _ in range(5):
                process()
                make_due(event)
    finally:
        signals.hook_event_dead.disconnect(on_dead)
    event.refresh_from_db()
    assert (event.status, event.attempts) == (Status.DEAD, 3)  # HOOK_MAX_ATTEMPTS
    assert dead == [event.pk]
    assert hooks.process_pending().processed == 0  # never tried again on its own
    out = StringIO()
    call_command("podio_hooks", "replay", "--dead", "--json", stdout=out)
    assert json.loads(out.getvalue())["done"] == 1
    assert PodioItem.objects.filter(item_id=item_id).exists()


def test_a_420_in_the_task_is_not_slept_on(podio, fake, settings):
    tasks = pytest.importorskip("django_podio.tasks")
    if not tasks.available():
        pytest.skip("no Tasks API")
    pytest.importorskip("django_tasks_db")
    app_connection = tokens.store_app_connection(podio.app_id, podio.app_token)
    hook = hook_row(podio.app_id, app_connection)
    item_id = podio.item_ids[0]
    event = deliver(hook, {"item_id": item_id})
    fake.add_rate_limit(wait_seconds=45, path=f"/item/{item_id}")
    tasks.process_hook_event.using(backend="db").enqueue(event.pk)
    started = timezone.now()
    call_command("db_worker", "--batch", "--backend", "db", "--no-startup-delay", verbosity=0)
    took = (timezone.now() - started).total_seconds()
    from django_tasks_db.models import DBTaskResult

    first = DBTaskResult.objects.order_by("enqueued_at").first()
    assert took < 10  # the old code slept 45 s in the worker
    retry_at = first.return_value["retry_at"]
    assert retry_at >= (started + timedelta(seconds=45)).isoformat()
    event.refresh_from_db()
    assert event.status == Status.FAILED and "RateLimited" in event.last_error


# Revisions and deletes ----------------------------------------------------------------------


def _client(podio):
    connection = tokens.store_app_connection(podio.app_id, podio.app_token)
    return connection, tokens.get_client(connection=connection)


def test_an_event_of_an_older_revision_than_the_cached_row_needs_no_refetch(podio, fake):
    connection, client = _client(podio)
    hook = hook_row(podio.app_id, connection)
    item_id = podio.item_ids[0]
    old = fake.get_item(item_id)
    old_revision_id = item_id * 100 + old.revision
    fake.update_item(item_id, {"title": "newer"})
    with client:
        items.fetch_items(client, podio.app_id, store=True)
    fake.reset_log()
    deliver(hook, {"item_id": item_id, "current_revision": {"item_revision_id": old_revision_id}})
    assert process()["done"] == 1
    assert fake.requests_to(f"/item/{item_id}", "GET") == []
    assert PodioItem.objects.get(item_id=item_id).title == "newer"


def test_a_delete_between_a_pages_fetch_and_its_store_stays_deleted(podio, fake, podio_settings):
    podio_settings(PAGE_SIZE=2)  # several pages, stored together as one batch
    connection, client = _client(podio)
    hook = hook_row(podio.app_id, connection, "item.delete")
    victim = min(podio.item_ids)  # on the first page (paged by item id)
    fired: list[str] = []

    def delete_while_the_page_is_answered(request, phase):
        if "/filter" not in request.path or not (request.json or {}).get("offset") or fired:
            return
        fired.append(request.path)
        # The first page (with the victim) has been read and waits to be stored with the
        # next; now the item is deleted and its delete event is processed (in another
        # thread, as a worker would).
        fake.delete_item(victim)
        import threading

        def work():
            from django.db import connection as thread_connection

            try:
                revision = {"item_revision_id": victim * 100}  # as Podio's delete event names
                deliver(hook, {"item_id": victim, "current_revision": revision}, "item.delete")
                hooks.process_pending()
            finally:
                thread_connection.close()

        thread = threading.Thread(target=work)
        thread.start()
        thread.join()

    fake.observers.append(delete_while_the_page_is_answered)
    try:
        with client:
            report = items.fetch_items(client, podio.app_id, store=True)
    finally:
        fake.observers.remove(delete_while_the_page_is_answered)
    assert fired and not report.error
    assert not PodioItem.objects.filter(item_id=victim).exists()
    assert items.tombstone_of(victim) is not None
    # A late update of the deleted item brings nothing back either, without a refetch.
    fake.reset_log()
    deliver(hook, {"item_id": victim, "current_revision": {"item_revision_id": victim * 100}})
    assert process()["done"] == 1 and fake.requests_to(f"/item/{victim}", "GET") == []
    assert not PodioItem.objects.filter(item_id=victim).exists()
    # A full sync still removes what Podio no longer has.
    other = podio.item_ids[1]
    fake.delete_item(other)
    with tokens.get_client(connection=connection) as again:
        full = items.fetch_items(again, podio.app_id, since=None, store=True)
    assert full.deleted == 1 and not PodioItem.objects.filter(item_id=other).exists()


def test_an_event_podio_keeps_refusing_ends_dead(podio, fake):
    """A 403 on every attempt (the connection lost access) is a failure like any other: it
    counts, and the event ends dead instead of being retried hourly for ever."""
    other = fake.add_app(name="Other", fields=LIGHT_FIELDS)
    foreign = tokens.store_app_connection(other.app_id, other.app_token)  # no rights on podio
    hook = hook_row(podio.app_id, foreign)
    event = deliver(hook, {"item_id": podio.item_ids[0]})
    for _ in range(4):
        process()
        make_due(event)
    event.refresh_from_db()
    assert (event.status, event.attempts) == (Status.DEAD, 3)
    assert "Forbidden" in event.last_error


def test_delete_works_through_another_connection_of_the_app(podio, fake, django_user_model):
    alice = user_connection(fake, django_user_model, "alice")
    hook = hook_row(podio.app_id, alice, at_podio=fake)
    tokens.store_app_connection(podio.app_id, podio.app_token)
    alice.user.delete()
    call_command("podio_hooks", "delete", str(hook.hook_id), stdout=StringIO())
    assert not PodioHook.objects.exists() and fake.hooks_of("app", podio.app_id) == []
