"""The tasks in one process, on SQLite and PostgreSQL: django-tasks-db's worker run in batch
mode (``db_worker --batch``) against the real fake Podio. Real workers in their own processes
are in ``test_engines.py``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_podio import tasks, tokens
from django_podio.models import PodioConnection, PodioItem, PodioItemSync
from tests.concurrency.test_races import ROOT, refresh_requests

pytestmark = [pytest.mark.django_db(transaction=True)]

DBTaskResult = pytest.importorskip("django_tasks_db.models").DBTaskResult


def run_worker() -> None:
    """Run every task that is ready now, here, then return (as a worker would, one by one)."""
    call_command("db_worker", "--batch", "--backend", "db", "--no-startup-delay", verbosity=0)


def results(task) -> list:
    return [r for r in DBTaskResult.objects.order_by("enqueued_at") if r.task_path.endswith(task)]


def test_without_a_tasks_api_enqueueing_says_what_to_install():
    def work(pk: int) -> None: ...

    stand_in = tasks._unavailable(work)
    assert stand_in.func is work
    with pytest.raises(ImproperlyConfigured, match=r"django-podio\[tasks\]"):
        stand_in.using(backend="db").enqueue(1)


def test_refresh_due_fans_out_one_task_per_due_connection(due, fake):
    connections = due(5)
    fresh = connections[0]
    PodioConnection.objects.filter(pk=fresh.pk).update(
        expires_at=timezone.now() + timedelta(hours=8)
    )
    tasks.refresh_due.using(backend="db").enqueue(None, 1)
    run_worker()
    assert [r.return_value for r in results("refresh_due")] == [{"enqueued": 4}]
    refreshed = results("tasks.refresh_connection")
    assert sorted(r.return_value["connection"] for r in refreshed) == sorted(
        c.pk for c in connections[1:]
    )
    assert {r.return_value["outcome"] for r in refreshed} == {"refreshed"}
    assert len(refresh_requests(fake)) == 4
    assert tokens.due_connections().count() == 0
    assert PodioConnection.objects.get(pk=fresh.pk).last_refreshed_at is None


def test_a_connection_enqueued_twice_is_spent_once(due, fake):
    due(3)
    assert tasks.enqueue_due(batch_size=1, backend="db") == 3
    assert tasks.enqueue_due(batch_size=1, backend="db") == 3  # cron again before any ran
    run_worker()
    outcomes = sorted(r.return_value["outcome"] for r in results("tasks.refresh_connection"))
    assert outcomes == ["already_fresh"] * 3 + ["refreshed"] * 3
    presented = [r.form["refresh_token"] for r in refresh_requests(fake)]
    assert len(presented) == len(set(presented)) == 3
    assert not PodioConnection.objects.filter(status="reauth_required").exists()


def test_batches(due, fake):
    due(5)
    assert tasks.enqueue_due(batch_size=2, backend="db") == 5
    run_worker()
    batches = results("refresh_connections")
    assert [len(b.args_kwargs["args"][0]) for b in batches] == [2, 2, 1]
    assert sum(r.return_value["outcomes"]["refreshed"] for r in batches) == 5
    assert len(refresh_requests(fake)) == 5
    with pytest.raises(ValueError):
        tasks.enqueue_due(batch_size=0, backend="db")


def test_rate_limited_refresh_gives_its_worker_back_and_comes_back_after_the_wait(due, fake):
    (connection,) = due(1)
    fake.add_rate_limit(30, path="/oauth/token")
    before = timezone.now()
    tasks.refresh_connection.using(backend="db").enqueue(connection.pk)
    run_worker()  # does not sleep 30 s: the task re-enqueued itself and returned
    first, again = results("tasks.refresh_connection")
    assert first.status == "SUCCESSFUL"
    assert first.return_value["outcome"] == "failed"
    assert again.status == "READY"
    assert before + timedelta(seconds=30) <= again.run_after
    assert again.run_after <= timezone.now() + timedelta(seconds=60)
    assert first.return_value["retry_at"] == again.run_after.isoformat()
    assert again.args_kwargs["args"] == [connection.pk, None]
    assert PodioConnection.objects.get(pk=connection.pk).expires_within(0)  # still due
    # When its time comes, the same task refreshes (run now by moving run_after back).
    DBTaskResult.objects.filter(pk=again.pk).update(run_after=timezone.now())
    run_worker()
    assert results("tasks.refresh_connection")[-1].return_value["outcome"] == "refreshed"
    assert len(refresh_requests(fake)) == 2  # the refused one spent nothing


def test_rate_limited_batch_defers_the_rest_as_one_task(due, fake):
    due(4)
    tasks.enqueue_due(batch_size=4, backend="db")
    fake.add_rate_limit(10, path="/oauth/token")  # the first refresh of the batch is refused
    run_worker()
    first, rest = results("refresh_connections")
    assert first.return_value["deferred"] == 4
    assert rest.status == "READY" and len(rest.args_kwargs["args"][0]) == 4


def test_retries_of_one_identity_are_spread_over_the_wait():
    now = timezone.now()
    times = [tasks.retry_at(f"refresh:{pk}", 60, now=now) for pk in range(200)]
    offsets = sorted((t - now).total_seconds() for t in times)
    assert offsets[0] >= 60 and offsets[-1] < 120
    assert len({int(o) for o in offsets}) > 40  # not a thundering herd at second 60
    assert tasks.retry_at("sync:app:1", 60, now=now) == tasks.retry_at("sync:app:1", 60, now=now)
    capped = tasks.retry_at("x", 10_000, now=now) - now
    assert timedelta(seconds=10_000) <= capped < timedelta(seconds=10_000 + tasks.MAX_SPREAD)


@pytest.fixture
def app(fake):
    """A Podio app with 1,200 items and its app connection."""
    found = fake.add_app(name="Projects")
    found.item_ids = fake.add_items(found.app_id, 1200)
    tokens.store_app_connection(found.app_id, found.app_token)
    fake.reset_log()
    return found


def filter_requests(fake, app_id: int) -> list:
    return fake.requests_to(f"/item/app/{app_id}/filter", method="POST")


def test_sync_app_fills_the_cache_and_then_only_fetches_changes(app, fake):
    tasks.enqueue_sync(app.app_id, backend="db")
    run_worker()
    (first,) = results("sync_app")
    assert first.return_value["created"] == 1200 and first.return_value["ok"]
    assert PodioItem.objects.filter(app_id=app.app_id).count() == 1200
    tasks.enqueue_sync(app.app_id, backend="db")
    run_worker()
    second = results("sync_app")[-1]
    assert second.return_value["mode"] == "since"
    assert second.return_value["created"] == 0


def test_a_sync_already_running_elsewhere_is_skipped(app, fake):
    held, release = threading.Event(), threading.Event()

    def other_worker() -> None:  # its own thread: its own database session
        from django.db import connection

        from django_podio.items.sync import CacheSync

        running = CacheSync(app.app_id, None, resume=True)  # holds the app's sync lease
        held.set()
        release.wait(30)
        running.close()
        connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert held.wait(10)
        tasks.enqueue_sync(app.app_id, backend="db")
        run_worker()
    finally:
        release.set()
        thread.join()
    (skipped,) = results("sync_app")
    assert skipped.return_value == {"app_id": app.app_id, "skipped": "already running"}
    assert filter_requests(fake, app.app_id) == []
    tasks.enqueue_sync(app.app_id, backend="db")  # the lease was given back: this one runs
    run_worker()
    assert results("sync_app")[-1].return_value["created"] == 1200


def test_rate_limited_sync_resumes_from_its_checkpoint(app, fake):
    fake.rate_limit_limited = 2  # two pages this hour, then 420 until the hour is over
    tasks.enqueue_sync(app.app_id, since=None, backend="db")
    run_worker()
    first, again = results("sync_app")
    assert first.status == "SUCCESSFUL" and "retry_at" in first.return_value
    stored = first.return_value["created"]
    assert 0 < stored < 1200
    assert again.status == "READY" and again.run_after > timezone.now()
    state = PodioItemSync.objects.get(app_id=app.app_id)
    assert state.in_progress and state.cursor_count == stored
    assert state.deferred_until == again.run_after
    assert again.args_kwargs["args"] == [app.app_id, None, None, None, True]
    # Cron enqueues the sync again during Podio's wait: it returns at once and spends no call
    # (it would only meet the 420 again); the task enqueued for after the wait does the work.
    fake.reset_log()
    tasks.enqueue_sync(app.app_id, since=None, backend="db")
    run_worker()
    cron = results("sync_app")[-1]
    assert cron.return_value == {
        "app_id": app.app_id,
        "skipped": "rate limited",
        "retry_at": again.run_after.isoformat(),
    }
    assert filter_requests(fake, app.app_id) == []
    fake.rate_limit_limited = 250
    DBTaskResult.objects.filter(pk=again.pk).update(run_after=timezone.now())
    run_worker()
    done = DBTaskResult.objects.get(pk=again.pk)
    assert done.return_value["resumed_after"] is not None
    assert done.return_value["created"] == 1200 - stored
    # Only the pages not yet stored are fetched again.
    assert len(filter_requests(fake, app.app_id)) == -(-(1200 - stored) // 500)
    assert PodioItem.objects.filter(app_id=app.app_id).count() == 1200
    assert not PodioItemSync.objects.get(app_id=app.app_id).in_progress


# Commands: cron and operators hand the work to the task backend (here Django's immediate
# backend, the default one, which runs a task at once in the caller).


def test_podio_refresh_enqueue_hands_each_due_connection_to_a_task(due, fake):
    due(3)
    out = io.StringIO()
    call_command("podio_refresh", "--enqueue", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"enqueued": 3, "within": 300, "ok": True}
    assert len(refresh_requests(fake)) == 3
    assert tokens.due_connections().count() == 0
    with pytest.raises(CommandError, match="exclude"):
        call_command("podio_refresh", "--enqueue", "--dry-run")


def test_podio_fetch_items_store_enqueue_runs_sync_app(app, fake):
    out = io.StringIO()
    call_command(
        "podio_fetch_items", str(app.app_id), "--app", "--store", "--enqueue", "--json", stdout=out
    )
    report = json.loads(out.getvalue())
    assert report["enqueued"] is True and report["task_id"]
    assert PodioItem.objects.filter(app_id=app.app_id).count() == 1200
    with pytest.raises(CommandError, match="--store"):
        call_command("podio_fetch_items", str(app.app_id), "--app", "--enqueue")
    with pytest.raises(CommandError, match="No user"):
        call_command(
            "podio_fetch_items", str(app.app_id), "--user", "nobody", "--store", "--enqueue"
        )


# Webhooks: with a task backend that runs elsewhere, the view enqueues; workers process.


@pytest.fixture
def hook(app, fake):
    from django_podio.hooks.secret import digest, new_secret
    from django_podio.models import PodioHook

    secret = new_secret()
    row = PodioHook.objects.create(
        hook_id=4242,
        app_id=app.app_id,
        connection=PodioConnection.objects.get(app_id=app.app_id),
        event_type="item.update",
        secret_hash=digest(secret),
        status=PodioHook.Status.ACTIVE,
    )
    row.secret = secret
    return row


def deliver(client, hook, item_id: int, revision: int = 1):
    from urllib.parse import urlencode

    from django.urls import reverse

    form = {
        "type": "item.update",
        "hook_id": str(hook.hook_id),
        "item_id": str(item_id),
        "item_revision_id": str(revision),
    }
    response = client.post(
        reverse("django_podio:hook", kwargs={"secret": hook.secret}),
        urlencode(form),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 202
    return response


def test_with_workers_the_hook_view_enqueues_and_a_worker_processes(
    client, hook, app, fake, settings
):
    from django_podio.models import PodioHookEvent

    settings.TASKS = {**settings.TASKS, "default": settings.TASKS["db"]}
    assert tasks.uses_workers()
    item_id = app.item_ids[0]
    fake.reset_log()
    deliver(client, hook, item_id)
    event = PodioHookEvent.objects.get()
    assert event.status == "pending"  # the web process did not call Podio
    assert fake.requests == []
    (queued,) = DBTaskResult.objects.all()
    assert queued.task_path.endswith("process_hook_event")
    assert queued.args_kwargs["args"] == [event.pk]
    call_command("db_worker", "--batch", "--backend", "default", "--no-startup-delay", verbosity=0)
    event.refresh_from_db()
    assert event.status == "done"
    assert PodioItem.objects.filter(item_id=item_id).exists()


def test_without_workers_the_hook_view_processes_in_process(client, hook, app, fake):
    from django_podio.models import PodioHookEvent

    assert not tasks.uses_workers()  # the tests' default backend is the immediate one
    deliver(client, hook, app.item_ids[0])
    assert PodioHookEvent.objects.get().status == "done"
    assert not DBTaskResult.objects.exists()


def test_the_package_works_without_a_tasks_api():
    """Django 5.2 without the backport: django_podio and its tasks module import; enqueueing
    says what to install, and webhook events are processed in-process."""
    code = textwrap.dedent(
        """
        import sys
        sys.modules["django.tasks"] = None  # neither Django's own Tasks API
        sys.modules["django_tasks"] = None  # nor the backport
        import django
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured
        settings.configure(
            INSTALLED_APPS=[
                "django.contrib.auth", "django.contrib.contenttypes", "allauth",
                "allauth.account", "allauth.socialaccount", "django_podio",
            ],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
            MIDDLEWARE=["allauth.account.middleware.AccountMiddleware"],
        )
        django.setup()
        from django_podio import tasks
        assert not tasks.available() and not tasks.uses_workers()
        try:
            tasks.refresh_due.enqueue()
        except ImproperlyConfigured as error:
            print("refused:", error)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert "refused:" in done.stdout and "django-podio[tasks]" in done.stdout
