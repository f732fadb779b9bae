"""The tasks on real engines, each worker its own process: django-tasks-db's ``db_worker`` and
Celery on Redis (127.0.0.1:6379) through ``django_podio.contrib.celery``, on PostgreSQL.

Scenarios (issue 11): 500 due connections refreshed by two workers, each exactly once; a worker
killed with SIGKILL mid-run leaves no refresh token spent twice, and the survivor plus the next
``refresh_due`` finish the rest; a sync of one app enqueued twice runs once; a rate-limited
refresh comes back after the wait without holding a worker; webhook events stored by the
view are processed by the workers.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection as db
from django.utils import timezone

from django_podio import tasks, tokens
from django_podio.models import PodioConnection, PodioItem, PodioItemSync
from tests.concurrency.test_races import refresh_requests

from .engines import Workers, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.skipif(
        not tasks.available(), reason="needs Django's Tasks API (django-podio[tasks] on 5.2)"
    ),
]

ENGINES = ["db", "celery"]


@pytest.fixture(autouse=True)
def _postgres_only(request):
    if db.vendor == "sqlite":
        pytest.skip("real task workers run on PostgreSQL and MariaDB (make test-postgres)")
    if request.node.callspec.params.get("engine") == "celery":
        import redis

        try:  # fail in seconds, not after a worker retried its broker for a minute
            redis.Redis(host="127.0.0.1", port=6379, socket_timeout=3).ping()
        except redis.RedisError as error:
            pytest.fail(f"Celery's broker, Redis at 127.0.0.1:6379, is not reachable: {error}")


def none_due() -> bool:
    return not tokens.due_connections().exists()


def presented(fake) -> Counter:
    return Counter(r.form["refresh_token"] for r in refresh_requests(fake))


@pytest.mark.parametrize("engine", ENGINES)
def test_two_workers_refresh_500_due_connections_each_exactly_once(engine, due, fake, tmp_path):
    due(500)
    with Workers(engine, fake, count=2).start(tmp_path) as workers:
        tasks.refresh_due.using(backend=engine).enqueue()
        wait_for(none_due, 120, workers)
        assert all(workers.alive()), workers.output()
    spent = presented(fake)
    assert len(spent) == 500 and set(spent.values()) == {1}
    assert PodioConnection.objects.filter(last_refreshed_at__isnull=False).count() == 500
    assert not PodioConnection.objects.exclude(status="active").exists()
    if engine == "db":  # both workers took a share
        from django_tasks_db.models import DBTaskResult

        ran = Counter(
            r.worker_ids[0]
            for r in DBTaskResult.objects.all()
            if "refresh_connection" in r.task_path
        )
        assert len(ran) == 2, ran


@pytest.mark.parametrize("engine", ENGINES)
def test_a_worker_killed_mid_run_spends_no_token_twice(engine, due, fake, tmp_path):
    due(200)
    fake.latency = 0.01  # every request takes a while: the kill lands mid-run
    with Workers(engine, fake, count=2).start(tmp_path) as workers:
        tasks.enqueue_due(backend=engine)
        wait_for(
            lambda: PodioConnection.objects.filter(last_refreshed_at__isnull=False).count() >= 40,
            60,
            workers,
        )
        workers.kill(0)
        assert workers.alive() == [False, True]
        assert tokens.due_connections().exists()  # killed mid-run, with work left
        # The survivor drains the queue; a task lost with the killed worker is recovered by
        # the next refresh_due (the connection is still due), which cron runs anyway.
        wait_for(lambda: not refresh_requests_pending(fake), 60, workers)
        # The killed worker's lease on the connection it was refreshing outlives its token
        # request's timeouts (minutes): until then nobody spends that token. Let that time
        # pass, then the next refresh_due, which cron runs anyway, recovers the rest.
        held = PodioConnection.objects.exclude(lease_owner="")
        assert held.count() <= 1
        held.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
        tasks.enqueue_due(backend=engine)
        wait_for(none_due, 60, workers)
    spent = presented(fake)
    twice = [token for token, uses in spent.items() if uses > 1]
    flagged = PodioConnection.objects.filter(status="reauth_required").count()
    # A refresh token presented twice is only ever the one in flight when the worker died
    # (Podio answered, the new pair was never committed): that connection is flagged.
    assert len(twice) == flagged <= 1
    refreshed = PodioConnection.objects.filter(status="active", last_refreshed_at__isnull=False)
    assert refreshed.count() + flagged == 200


def refresh_requests_pending(fake) -> bool:
    """True while refreshes are still arriving (the queue is not drained yet)."""
    import time

    before = len(refresh_requests(fake))
    time.sleep(0.5)
    return len(refresh_requests(fake)) != before


@pytest.mark.parametrize("engine", ENGINES)
def test_a_sync_enqueued_twice_runs_once(engine, fake, tmp_path):
    app = fake.add_app(name="Projects")
    fake.add_items(app.app_id, 3000)
    tokens.store_app_connection(app.app_id, app.app_token)
    fake.reset_log()
    fake.latency = 0.1  # the first sync is still paging when the second task starts
    with Workers(engine, fake, count=2).start(tmp_path) as workers:
        tasks.enqueue_sync(app.app_id, since=None, backend=engine)
        tasks.enqueue_sync(app.app_id, since=None, backend=engine)

        def finished() -> bool:
            state = PodioItemSync.objects.filter(app_id=app.app_id).first()
            return state is not None and state.last_full_run_finished_at is not None

        wait_for(finished, 90, workers)
        wait_for(lambda: not refresh_requests_pending(fake), 30, workers)
    pages = fake.requests_to(f"/item/app/{app.app_id}/filter", method="POST")
    assert len(pages) <= math.ceil(3000 / 500) + 1  # one run's pages, not two runs'
    assert PodioItem.objects.filter(app_id=app.app_id).count() == 3000
    if engine == "db":
        from django_tasks_db.models import DBTaskResult

        syncs = [r.return_value for r in DBTaskResult.objects.all() if "sync_app" in r.task_path]
        assert sorted("skipped" in r for r in syncs) == [False, True], syncs


@pytest.mark.parametrize("engine", ENGINES)
def test_a_rate_limited_refresh_comes_back_after_the_wait(engine, due, fake, tmp_path):
    due(10)
    fake.add_rate_limit(2, path="/oauth/token")
    with Workers(engine, fake, count=2).start(tmp_path) as workers:
        tasks.enqueue_due(backend=engine)
        wait_for(none_due, 60, workers)
    answers = Counter(r.status for r in refresh_requests(fake))
    assert answers == {200: 10, 420: 1}  # the refused one spent nothing and came back
    spent = Counter(r.form["refresh_token"] for r in refresh_requests(fake) if r.status == 200)
    assert len(spent) == 10 and set(spent.values()) == {1}


@pytest.mark.parametrize("engine", ENGINES)
def test_webhook_events_are_processed_by_the_workers(engine, client, fake, settings, tmp_path):
    from django_podio.models import PodioHookEvent

    from .test_tasks import deliver

    app = fake.add_app(name="Projects")
    item_ids = fake.add_items(app.app_id, 20)
    tokens.store_app_connection(app.app_id, app.app_token)
    row = make_hook(app.app_id)
    settings.TASKS = {**settings.TASKS, "default": settings.TASKS[engine]}
    fake.reset_log()
    with Workers(engine, fake, count=2, as_default=True).start(tmp_path) as workers:
        for item_id in item_ids:
            deliver(client, row, item_id)
        wait_for(lambda: PodioHookEvent.objects.filter(status="done").count() == 20, 60, workers)
    assert PodioItem.objects.filter(item_id__in=item_ids).count() == 20
    refetches = [r for r in fake.requests if r.method == "GET" and r.path.startswith("/item/")]
    assert len(refetches) == 20


def make_hook(app_id: int):
    from django_podio.hooks.secret import digest, new_secret
    from django_podio.models import PodioHook

    secret = new_secret()
    row = PodioHook.objects.create(
        hook_id=4242,
        app_id=app_id,
        connection=PodioConnection.objects.get(app_id=app_id),
        event_type="item.update",
        secret_hash=digest(secret),
        status=PodioHook.Status.ACTIVE,
    )
    row.secret = secret
    return row
