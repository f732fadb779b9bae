"""``podio_status`` and the admin's status page: each figure from real rows made the real way.

Connections come from a login through the fake and from app auth, failures from the fake's
token endpoint failing, syncs from ``podio_fetch_items --store``; events and hooks are rows as
the receiver stores them. Nothing of ours is mocked.
"""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection as db_connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_podio import get_client, status, tokens
from django_podio.api import limits
from django_podio.exceptions import RateLimited
from django_podio.hooks.secret import digest, new_secret
from django_podio.models import (
    PodioConnection,
    PodioHook,
    PodioHookEvent,
    PodioItemSync,
)

from .commands import shell
from .conftest import login_with_podio
from .factories import make_connection, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_rate_limit():
    """Each test starts with no rate limit recorded (the cache and this process's memo)."""
    from django.core.cache import cache

    cache.clear()
    limits.forget()
    yield
    cache.clear()
    limits.forget()


def user_connection(client) -> PodioConnection:
    login_with_podio(client)
    return PodioConnection.objects.get(kind=PodioConnection.Kind.USER)


def app_connection(fake) -> PodioConnection:
    app = fake.add_app(name="Projects")
    return tokens.store_app_connection(app.app_id, app.app_token)


def report(*argv: str) -> tuple[int, dict]:
    """``podio_status --json``: (1 if it raised CommandError else 0, its one JSON object)."""
    out = StringIO()
    try:
        call_command("podio_status", "--json", *argv, stdout=out)
        code = 0
    except CommandError:
        code = 1
    return code, json.loads(out.getvalue())


def make_hook(app_id: int, status: str, connection=None) -> PodioHook:
    return PodioHook.objects.create(
        hook_id=None,
        app_id=app_id,
        connection=connection,
        event_type="item.update",
        secret_hash=digest(new_secret()),
        status=status,
    )


def make_event(hook: PodioHook, status: str, **fields) -> PodioHookEvent:
    return PodioHookEvent.objects.create(hook=hook, type="item.update", status=status, **fields)


# Empty and healthy ---------------------------------------------------------------------------


def test_nothing_stored_is_healthy_and_every_declared_status_is_listed(fake):
    code, document = report()
    assert code == 0
    assert document["ok"] is True and document["needs_attention"] is False
    assert document["problems"] == []
    assert document["connections"]["by_status"] == {"active": 0, "reauth_required": 0}
    assert document["connections"]["by_kind"] == {"user": 0, "app": 0}
    assert set(document["hooks"]["by_status"]) == set(PodioHook.Status.values)
    assert set(document["events"]["by_status"]) == set(PodioHookEvent.Status.values)
    assert document["syncs"] == {"stale_after": 90000, "apps": []}
    assert document["rate_limit"]["seen_at"] is None


@pytest.mark.django_db(transaction=True)
def test_text_report_is_a_short_table(client, fake):
    user_connection(client)
    run = shell("podio_status")
    assert run.code == 0, run.err
    assert run.out.splitlines()[1].split()[:2] == ["Connections", "1"]
    assert "Nothing needs a person." in run.out
    assert shell("podio_status", "-v", "0").out == ""


# Connections ------------------------------------------------------------------------------


def test_connections_by_status_and_kind_and_due_within_the_hour(client, fake):
    user = user_connection(client)
    app = app_connection(fake)
    later = make_connection(make_user("bob"), expires_in=5 * 3600)
    now = timezone.now()
    PodioConnection.objects.filter(pk=user.pk).update(expires_at=now + timedelta(minutes=30))
    PodioConnection.objects.filter(pk=app.pk).update(expires_at=now - timedelta(minutes=1))
    PodioConnection.objects.filter(pk=later.pk).update(expires_at=now + timedelta(hours=5))

    code, document = report()
    connections = document["connections"]
    assert code == 0
    assert connections["total"] == 3
    assert connections["by_status"] == {"active": 3, "reauth_required": 0}
    assert connections["by_kind"] == {"user": 2, "app": 1}
    assert connections["due_within_hour"] == 1  # the user's; the app's has already expired
    assert connections["expired"] == 1
    assert connections["expired_failing"] == 0  # expired, but no refresh failed: not a problem


def test_a_refused_refresh_token_needs_a_person(client, fake):
    connection = user_connection(client)
    fake.revoke_refresh_tokens()
    result = tokens.refresh_connection(connection, force=True)
    assert result.outcome is tokens.Outcome.REAUTH_REQUIRED
    assert PodioConnection.objects.get(pk=connection.pk).last_failed_at is not None

    code, document = report()
    assert code == 1
    assert document["ok"] is False and document["needs_attention"] is True
    assert document["connections"]["by_status"]["reauth_required"] == 1
    assert [p["code"] for p in document["problems"]] == ["reauth_required"]
    assert document["problems"][0]["count"] == 1
    assert "log in" in document["error"]


# Refresh failures -------------------------------------------------------------------------


def test_refresh_failures_of_the_last_day_recovered_or_not(client, fake):
    connection = user_connection(client)
    fake.add_fault("500", path="/oauth/token")
    before = timezone.now()
    assert tokens.refresh_connection(connection, force=True).outcome is tokens.Outcome.FAILED
    stored = PodioConnection.objects.get(pk=connection.pk)
    assert stored.last_failed_at is not None and stored.last_failed_at >= before

    code, document = report()
    failures = document["refresh_failures"]
    assert code == 0  # the old token still works: the next run retries
    assert failures["connections"] == failures["still_failing"] == 1
    [recent] = failures["recent"]
    assert recent["connection"] == connection.pk and recent["failure_count"] == 1
    assert "500" in recent["error"] or "Server" in recent["error"]

    assert tokens.refresh_connection(connection, force=True).outcome is tokens.Outcome.REFRESHED
    _, document = report()
    failures = document["refresh_failures"]
    assert failures["connections"] == 1 and failures["still_failing"] == 0
    assert failures["recent"][0]["error"] == ""  # recovered

    PodioConnection.objects.filter(pk=connection.pk).update(
        last_failed_at=timezone.now() - timedelta(hours=25)
    )
    _, document = report()
    assert document["refresh_failures"]["connections"] == 0
    assert document["refresh_failures"]["recent"] == []


def test_an_expired_token_whose_refresh_fails_needs_a_person(client, fake):
    connection = user_connection(client)
    PodioConnection.objects.filter(pk=connection.pk).update(
        expires_at=timezone.now() - timedelta(seconds=5)
    )
    fake.add_fault("503", path="/oauth/token")
    assert tokens.refresh_connection(connection).outcome is tokens.Outcome.FAILED

    code, document = report()
    assert code == 1
    assert document["connections"]["expired_failing"] == 1
    assert [p["code"] for p in document["problems"]] == ["expired_failing"]


def test_a_token_answer_without_access_token_counts_as_a_failure(client, fake):
    connection = user_connection(client)
    fake.token_answer = lambda payload: {**payload, "access_token": ""}
    try:
        assert tokens.refresh_connection(connection, force=True).outcome is tokens.Outcome.FAILED
    finally:
        fake.token_answer = None
    assert PodioConnection.objects.get(pk=connection.pk).last_failed_at is not None


# Hooks and events -------------------------------------------------------------------------


def test_hooks_and_events_by_status(fake):
    active = make_hook(1, PodioHook.Status.ACTIVE)
    make_hook(1, PodioHook.Status.PENDING)
    make_event(active, PodioHookEvent.Status.DONE)
    make_event(active, PodioHookEvent.Status.DONE)
    old = timezone.now() - timedelta(hours=2)
    make_event(active, PodioHookEvent.Status.PENDING, received_at=old)
    make_event(active, PodioHookEvent.Status.PENDING)
    make_event(
        active,
        PodioHookEvent.Status.FAILED,
        attempts=2,
        next_attempt_at=timezone.now() + timedelta(minutes=1),
    )

    code, document = report()
    assert code == 0  # a failed event that will be retried is not a person's job
    hooks = document["hooks"]["by_status"]
    assert set(hooks) == set(PodioHook.Status.values)  # every declared status, 0 when none
    assert (hooks["pending"], hooks["active"], hooks["failed"]) == (1, 1, 0)
    assert document["hooks"]["total"] == 2
    assert document["events"]["total"] == 5
    assert document["events"]["by_status"]["done"] == 2
    assert document["events"]["by_status"]["pending"] == 2
    assert document["events"]["by_status"]["failed"] == 1
    assert document["events"]["oldest_pending_at"] == old.isoformat()
    assert document["events"]["stranded"] == 0


def test_a_failed_event_nothing_will_retry_needs_a_person(fake):
    hook = make_hook(1, PodioHook.Status.ACTIVE)
    make_event(hook, PodioHookEvent.Status.FAILED, attempts=1, next_attempt_at=None)
    code, document = report()
    assert code == 1
    assert document["events"]["stranded"] == 1
    assert [p["code"] for p in document["problems"]] == ["stranded_events"]


def test_a_dead_event_status_is_counted_and_needs_a_person_without_code_changes(fake):
    """``dead`` is counted whether or not the model declares it yet (any stored value is)."""
    hook = make_hook(1, PodioHook.Status.ACTIVE)
    make_event(hook, "dead", attempts=8)
    code, document = report()
    assert code == 1
    assert document["events"]["by_status"]["dead"] == 1
    assert [p["code"] for p in document["problems"]] == ["dead_events"]


def test_a_hook_that_failed_verification_needs_a_person(fake):
    make_hook(1, PodioHook.Status.FAILED)
    code, document = report()
    assert code == 1
    assert [p["code"] for p in document["problems"]] == ["failed_hooks"]


# Item syncs -------------------------------------------------------------------------------


def test_last_sync_per_app_with_its_lag_and_staleness(client, fake, podio_settings):
    app = fake.add_app(name="Projects")
    fake.add_items(app.app_id, 3)
    tokens.store_app_connection(app.app_id, app.app_token)
    call_command("podio_fetch_items", app.app_id, "--app", "--store", "-v", "0")
    other = PodioItemSync.objects.create(
        app_id=app.app_id + 1,
        last_run_finished_at=timezone.now() - timedelta(hours=30),
        last_full_run_finished_at=timezone.now() - timedelta(hours=40),
    )

    code, document = report()
    fresh, old = document["syncs"]["apps"]
    assert fresh["app_id"] == app.app_id and old["app_id"] == other.app_id
    assert fresh["last_full_finished_at"] is not None and fresh["stale"] is False
    assert 0 <= fresh["lag_seconds"] < 60
    assert 30 * 3600 <= old["lag_seconds"] < 30 * 3600 + 60
    assert old["stale"] is True
    assert code == 1
    assert [p["code"] for p in document["problems"]] == ["stale_syncs"]
    assert str(other.app_id) in document["problems"][0]["message"]

    podio_settings(STATUS_SYNC_STALE_AFTER=40 * 3600)
    assert report()[0] == 0
    podio_settings(STATUS_SYNC_STALE_AFTER=None)
    code, document = report()
    assert code == 0 and document["syncs"]["stale_after"] is None


def test_a_first_sync_that_never_finished_is_stale_once_it_ran_too_long(fake, podio_settings):
    podio_settings(STATUS_SYNC_STALE_AFTER=3600)
    sync = PodioItemSync.objects.create(app_id=5, run_started_at=timezone.now())
    assert report()[1]["syncs"]["apps"][0]["stale"] is False
    PodioItemSync.objects.filter(pk=sync.pk).update(
        run_started_at=timezone.now() - timedelta(hours=2)
    )
    code, document = report()
    assert document["syncs"]["apps"][0]["stale"] is True
    assert document["syncs"]["apps"][0]["lag_seconds"] is None
    assert code == 1


# The rate limit ---------------------------------------------------------------------------


def test_the_rate_limit_last_seen_by_any_client(client, fake):
    user_connection(client)
    limits.forget()  # a fresh process: its first pair is written at once
    with get_client(User.objects.get()) as podio:
        podio.get("/user/status")
        seen = podio.rate_limit
    document = report()[1]["rate_limit"]
    assert (document["limit"], document["remaining"]) == seen
    assert document["seen_at"] is not None and document["refused_at"] is None

    fake.add_rate_limit(900, path="/user/status")
    with get_client(User.objects.get(), rate_limit_max_wait=0) as podio:
        with pytest.raises(RateLimited):
            podio.get("/user/status")
    document = report()[1]["rate_limit"]
    assert document["refused_at"] is not None
    assert document["remaining"] == 0


def test_rate_limit_writes_are_spaced_unless_low_or_refused(settings):
    from django.core.cache import cache

    limits.record(1000, 990)
    cache.delete(limits.SEEN_KEY)
    limits.record(1000, 989)  # within RECORD_INTERVAL of the last write: not written
    assert cache.get(limits.SEEN_KEY) is None
    limits.record(1000, 99)  # under a tenth left: written at once
    assert cache.get(limits.SEEN_KEY)["remaining"] == 99
    limits.record(1000, 98, refused=True)
    assert cache.get(limits.REFUSED_KEY) is not None


# JSON, exit status, secrets ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_json_failure_is_one_object_with_the_whole_report(client, fake):
    connection = user_connection(client)
    PodioConnection.objects.filter(pk=connection.pk).update(
        status=PodioConnection.Status.REAUTH_REQUIRED
    )
    run = shell("podio_status", "--json")
    assert run.code == 1
    document = run.json()
    assert document["ok"] is False and document["error"].startswith("Needs a person")
    assert document["connections"]["total"] == 1

    with pytest.raises(CommandError, match="Needs a person"):
        call_command("podio_status")


@pytest.mark.django_db(transaction=True)
def test_no_secret_in_any_output(client, fake):
    connection = user_connection(client)
    app_connection(fake)
    fake.add_fault("500", path="/oauth/token")
    tokens.refresh_connection(connection, force=True)
    fake.revoke_refresh_tokens()
    tokens.refresh_connection(connection, force=True)
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    browser = Client()
    browser.force_login(admin)
    outputs = [
        shell("podio_status").out,
        shell("podio_status").err,
        shell("podio_status", "--json").out,
        shell("podio_status", "-v", "2").out,
        browser.get("/admin/django_podio/podiostatus/").content.decode(),
    ]
    secrets = fake.issued_secrets() | {fake.client_secret}
    for text in outputs:
        assert text
        assert not [s for s in secrets if s and s in text]


# Queries ----------------------------------------------------------------------------------


def count_queries() -> int:
    with CaptureQueriesContext(db_connection) as queries:
        status.summarize()
    return len(queries)


def test_the_number_of_queries_does_not_grow_with_the_rows(client, fake):
    user_connection(client)
    hook = make_hook(1, PodioHook.Status.ACTIVE)
    make_event(hook, PodioHookEvent.Status.PENDING)
    PodioItemSync.objects.create(app_id=1, last_run_finished_at=timezone.now())
    PodioConnection.objects.update(last_failed_at=timezone.now(), failure_count=1)
    few = count_queries()

    for n in range(30):
        make_connection(make_user(f"user{n}"), last_failed_at=timezone.now(), failure_count=n % 3)
        make_hook(n + 2, PodioHook.Status.PENDING)
        make_event(hook, PodioHookEvent.Status.FAILED, next_attempt_at=timezone.now())
        PodioItemSync.objects.create(app_id=100 + n, last_run_finished_at=timezone.now())
    many = count_queries()
    assert few == many <= 5


# The admin --------------------------------------------------------------------------------

INDEX, PAGE = "/admin/", "/admin/django_podio/podiostatus/"


def staff(username: str, *codenames: str) -> Client:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="django_podio", codename__in=codenames)
    )
    browser = Client()
    browser.force_login(user)
    return browser


def test_admin_index_links_the_status_page_for_superusers(client, fake, admin_client):
    connection = user_connection(client)
    PodioConnection.objects.filter(pk=connection.pk).update(
        status=PodioConnection.Status.REAUTH_REQUIRED
    )
    index = admin_client.get(INDEX)
    assert index.status_code == 200
    assert PAGE.encode() in index.content
    page = admin_client.get(PAGE)
    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-problem="reauth_required"' in text
    assert "Refresh failures in the last 24 hours" in text


def test_view_only_staff_see_the_status(fake):
    browser = staff("viewer", "view_podioconnection")
    assert PAGE.encode() in browser.get(INDEX).content
    page = browser.get(PAGE)
    assert page.status_code == 200
    assert b"Nothing needs a person." in page.content


def test_staff_without_the_right_to_view_connections_see_nothing(fake):
    browser = staff("hooks-only", "view_podiohook")
    assert PAGE.encode() not in browser.get(INDEX).content
    assert browser.get(PAGE).status_code == 403
    anonymous = Client().get(PAGE)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]


def test_the_status_page_writes_nothing(fake, admin_client):
    assert admin_client.post(PAGE, {"action": "delete_selected"}).status_code in (200, 403, 405)
    assert admin_client.get(PAGE + "add/").status_code == 404


def test_a_custom_admin_site_shows_the_status(fake):
    admin_user = User.objects.create_superuser("root", "root@example.com", "pw")
    browser = Client()
    browser.force_login(admin_user)
    index = browser.get("/custom-admin/")
    assert index.status_code == 200
    assert b"/custom-admin/django_podio/podiostatus/" in index.content
    page = browser.get("/custom-admin/django_podio/podiostatus/")
    assert page.status_code == 200
    assert b"/custom-admin/" in page.content  # breadcrumbs point into the custom site


def test_json_schema_keys_are_stable(fake):
    document = report()[1]
    assert list(document) == [
        "ok",
        "needs_attention",
        "problems",
        "generated_at",
        "connections",
        "refresh_failures",
        "hooks",
        "events",
        "syncs",
        "rate_limit",
    ]
    assert json.loads(json.dumps(document)) == document
