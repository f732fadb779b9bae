"""The refresh's and the sync's lease: claimed by a short committed write, fenced writes after.

Run on every database of the suite (a SQLite file, PostgreSQL, MariaDB): threads and real
processes, the fake answering slowly so that work overlaps for real.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection as db
from django.db import connections, transaction
from django.test import Client
from django.utils import timezone

from django_podio import get_client, items, signals, tokens
from django_podio.exceptions import SyncAlreadyRunning
from django_podio.items.sync import CacheSync
from django_podio.models import PodioConnection, PodioItem, PodioItemSync

from ..conftest import login_with_podio
from ..factories import podio_user_connection
from .test_races import ROOT, child_env, refresh_requests

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def login(fake):
    login_with_podio(Client())
    return PodioConnection.objects.get()


def make_due(connection: PodioConnection) -> PodioConnection:
    PodioConnection.objects.filter(pk=connection.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    return PodioConnection.objects.get(pk=connection.pk)


def in_thread(func, *args, **kwargs) -> tuple[threading.Thread, dict]:
    """Run ``func`` in a thread with its own database connection; its result lands in the dict."""
    out: dict = {}

    def target() -> None:
        try:
            out["value"] = func(*args, **kwargs)
        except BaseException as error:
            out["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    return thread, out


def when_token_request_arrives(fake) -> threading.Event:
    arrived = threading.Event()

    def observe(request, phase):
        if request.path.startswith("/oauth/token") and phase == "received":
            arrived.set()

    fake.observers.append(observe)
    return arrived


def test_a_worker_that_needs_the_token_waits_for_the_holder_and_uses_its_new_token(fake, login):
    stale = make_due(login)
    fake.latency = 1.0
    arrived = when_token_request_arrives(fake)
    holder, held = in_thread(tokens.refresh_connection, stale.pk)
    assert arrived.wait(10)
    row = PodioConnection.objects.get(pk=login.pk)
    assert row.lease_owner and row.lease_expires_at > timezone.now()  # claimed and committed
    fake.latency = 0
    waiter = get_client(connection=stale)  # expired: it must wait for the holder's new token
    holder.join(20)
    assert held["value"].outcome is tokens.Outcome.REFRESHED
    stored = PodioConnection.objects.get(pk=login.pk)
    assert waiter._auth.token == stored.access_token != stale.access_token
    assert len(refresh_requests(fake)) == 1
    assert stored.lease_owner == "" and stored.lease_expires_at is None
    assert stored.token_version == stale.token_version + 1


def test_cron_skips_a_connection_another_host_is_refreshing(fake, login):
    stale = make_due(login)
    fake.latency = 1.0
    arrived = when_token_request_arrives(fake)
    holder, held = in_thread(tokens.refresh_connection, stale.pk)
    assert arrived.wait(10)
    report = tokens.refresh_due(concurrency=2)
    holder.join(20)
    assert report.skipped == 1 and report.refreshed == 0
    assert held["value"].outcome is tokens.Outcome.REFRESHED
    assert len(refresh_requests(fake)) == 1


def test_cron_never_spends_a_pair_that_changed_after_its_page_was_read(fake, django_user_model):
    """Cron reads its rows a page at a time and claims them a batch at a time, fenced on the
    version read: a row refreshed by someone else in between is not claimed, and the pair it
    held when the page was read (spent already) is never sent to Podio again."""
    fake.rate_limit_login = 10**6
    rows = [podio_user_connection(fake, f"paged{i}", expires_in=-100 + i) for i in range(20)]
    last = rows[-1]  # in the run's last claim batch
    fake.reset_log()
    elsewhere: dict = {}
    lock = threading.Lock()

    def refresh_the_last_row_elsewhere(pk, result):
        with lock:
            if elsewhere:
                return
            elsewhere["result"] = tokens.refresh_connection(last.pk, force=True)

    report = tokens.refresh_due(concurrency=1, on_result=refresh_the_last_row_elsewhere)
    assert elsewhere["result"].outcome is tokens.Outcome.REFRESHED
    assert (report.refreshed, report.skipped, report.ok) == (19, 1, True), report.as_dict()
    spent = [r.form["refresh_token"] for r in refresh_requests(fake)]
    assert sorted(spent) == sorted(row.refresh_token for row in rows)  # each once
    assert all(r.status == 200 for r in refresh_requests(fake))
    assert not PodioConnection.objects.exclude(lease_owner="").exists()


def test_a_failing_progress_callback_stops_no_store(fake, django_user_model):
    """Podio's answers are stored by threads of their own; a callback that raises (a full
    disk under a progress log) must not stop them, or the workers' answers would be lost."""
    fake.rate_limit_login = 10**6
    rows = [podio_user_connection(fake, f"noisy{i}", expires_in=-1) for i in range(12)]

    def broken(pk, result):
        raise OSError("No space left on device")

    run, out = in_thread(tokens.refresh_due, concurrency=3, on_result=broken)
    run.join(60)
    assert not run.is_alive(), "the run hung: a storer died and the workers wait for it"
    report = out["value"]
    assert (report.refreshed, report.ok) == (12, True), report.as_dict()
    for row in rows:
        stored = PodioConnection.objects.get(pk=row.pk)
        assert stored.refresh_token != row.refresh_token and stored.lease_owner == ""


def test_ctrl_c_right_after_a_batch_claim_committed_leaves_no_lease(fake, django_user_model):
    """A KeyboardInterrupt can land after the batch claim's ``UPDATE`` committed and before
    the run knows which rows it got: those rows are given back too, not left to expire."""
    rows = [podio_user_connection(fake, f"cut{i}", expires_in=-1) for i in range(5)]
    claims = []

    def interrupt_after_the_claim(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not claims and sql.lstrip().upper().startswith("UPDATE"):
            claims.append(context["cursor"].rowcount)
            raise KeyboardInterrupt
        return result

    with db.execute_wrapper(interrupt_after_the_claim), pytest.raises(KeyboardInterrupt):
        tokens.refresh_due(concurrency=2)
    assert claims == [5]  # the claim committed: every row was leased when the run stopped
    left = PodioConnection.objects.filter(pk__in=[row.pk for row in rows])
    assert [(c.lease_owner, c.lease_expires_at) for c in left] == [("", None)] * 5
    assert not refresh_requests(fake)  # and none was spent
    assert tokens.refresh_due().refreshed == 5  # the next run takes them at once


def test_refresh_due_inside_a_callers_transaction_keeps_its_pairs_when_it_rolls_back(
    fake, django_user_model
):
    """Cron called from the site's own code inside ``atomic()``: its claims and stores are
    committed on connections of their own, so a rollback of the caller's transaction
    afterwards loses no rotated pair."""
    fake.rate_limit_login = 10**6
    rows = [podio_user_connection(fake, f"inside{i}", expires_in=-1) for i in range(10)]
    with contextlib.suppress(RuntimeError), transaction.atomic():
        report = tokens.refresh_due(concurrency=3)
        raise RuntimeError("the caller's view fails after the refresh")
    assert (report.refreshed, report.ok) == (10, True), report.as_dict()
    assert len(refresh_requests(fake)) == 10
    for row in rows:
        stored = PodioConnection.objects.get(pk=row.pk)
        assert stored.refresh_token != row.refresh_token and stored.lease_owner == ""
        client = get_client(connection=stored)
        client.get("/user/status")  # the stored pair is the live one
        client.close()


def test_a_claimed_row_whose_lease_ran_short_is_renewed_before_podio_is_asked(fake, login):
    from django_podio import db as leases
    from django_podio.tokens import refresh

    row = make_due(login)
    lease = leases.claim_row(PodioConnection, row.pk, 1, where={"token_version": row.token_version})
    answer = refresh.ask_claimed(row, lease)
    assert isinstance(answer, refresh.Answer) and answer.token is not None
    renewed = PodioConnection.objects.get(pk=row.pk).lease_expires_at
    assert renewed > timezone.now() + timedelta(seconds=refresh.lease_seconds() - 5)
    result = refresh.settle_claimed(row, lease, answer)
    assert result.outcome is tokens.Outcome.REFRESHED
    stored = PodioConnection.objects.get(pk=row.pk)
    assert (stored.access_token, stored.lease_owner) == (answer.token.access_token, "")


def test_a_claimed_row_whose_lease_ran_out_and_was_taken_is_not_spent(fake, login):
    from django_podio import db as leases
    from django_podio.tokens import refresh

    row = make_due(login)
    long_ago = timezone.now() - timedelta(seconds=600)
    lease = leases.claim_row(PodioConnection, row.pk, 60, where={}, now=long_ago)
    assert leases.claim_row(PodioConnection, row.pk, 60, where={})  # another worker's now
    fake.reset_log()
    result = refresh.ask_claimed(row, lease)
    assert result.outcome is tokens.Outcome.SKIPPED
    assert refresh_requests(fake) == []


def test_a_holder_whose_lease_ran_out_still_stores_its_pair_if_nobody_stored_a_newer_one(
    fake, login, monkeypatch
):
    """The lease outlives the token request's timeouts, so this only happens to a holder
    that hung for longer; its answer is still the newest pair, and it is kept."""
    stale = make_due(login)
    fake.latency = 1.0

    def expire_the_lease(request, phase):
        if request.path.startswith("/oauth/token") and phase == "received":
            PodioConnection.objects.filter(pk=stale.pk).update(
                lease_expires_at=timezone.now() - timedelta(seconds=1)
            )
            connections.close_all()  # the fake's thread: no connection left behind

    fake.observers.append(expire_the_lease)
    result = tokens.refresh_connection(stale.pk)
    assert result.outcome is tokens.Outcome.REFRESHED
    stored = PodioConnection.objects.get(pk=login.pk)
    assert stored.refresh_token != stale.refresh_token
    assert stored.access_token == result.connection.access_token
    # The pair stored is live at Podio: the next refresh works.
    fake.observers.clear()
    assert tokens.refresh_connection(stored, force=True).outcome is tokens.Outcome.REFRESHED


def test_a_refusal_never_marks_reauth_when_a_newer_pair_was_stored_meanwhile(fake, login):
    """A login while a doomed refresh is in flight: the login's pair stands."""
    dead = make_due(login)
    PodioConnection.objects.filter(pk=dead.pk).update(refresh_token="revoked-at-podio")
    fake.latency = 0.5
    arrived = when_token_request_arrives(fake)
    holder, held = in_thread(tokens.refresh_connection, dead.pk)
    assert arrived.wait(10)
    fake.latency = 0
    login_with_podio(Client())  # the user logs in again: a fresh pair, stored at once
    holder.join(20)
    assert held["value"].outcome is tokens.Outcome.ALREADY_FRESH
    stored = PodioConnection.objects.get(pk=login.pk)
    assert stored.status == PodioConnection.Status.ACTIVE
    assert get_client(connection=stored).get("/user/status")["user"]["user_id"]


def test_a_killed_holder_loses_only_what_it_spent(fake, login):
    """kill -9 during the token request: the lease stays until it expires (nobody else spends
    the token meanwhile); then, as documented, Podio had rotated, so the connection needs its
    user (reauth_required and the signal) — the loss window is the round trip, nothing more."""
    stale = make_due(login)
    fake.latency = 1.5
    arrived = when_token_request_arrives(fake)
    script = (
        "import django; django.setup()\n"
        "from django_podio import tokens\n"
        f"tokens.refresh_connection({stale.pk})\n"
    )
    env = {**os.environ, **child_env(fake)}
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env)
    try:
        assert arrived.wait(30)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(30)
    # Podio did rotate: the answer was lost with the process. (The fake logs a request once it
    # has handled it, so the rotation is done and the log holds nothing of it later.)
    deadline = time.monotonic() + 10
    while not refresh_requests(fake):
        assert time.monotonic() < deadline, "the killed holder's token request was never handled"
        time.sleep(0.05)
    row = PodioConnection.objects.get(pk=login.pk)
    assert row.lease_owner and row.lease_expires_at > timezone.now()
    assert row.token_version == stale.token_version  # nothing half-written
    # While the dead holder's lease lives, nobody else spends the (now dead) refresh token.
    fake.reset_log()
    assert tokens.refresh_connection(row, skip_locked=True).outcome is tokens.Outcome.SKIPPED
    assert refresh_requests(fake) == []
    # Time passes: the lease expires; the next refresh learns the token was spent.
    PodioConnection.objects.filter(pk=row.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    told = []
    receiver = lambda sender, connection, error, **kw: told.append(connection.pk)  # noqa: E731
    signals.reauthorization_required.connect(receiver)
    try:
        result = tokens.refresh_connection(row.pk)
    finally:
        signals.reauthorization_required.disconnect(receiver)
    assert result.outcome is tokens.Outcome.REAUTH_REQUIRED and told == [row.pk]


def _set_session(sql_pg: str, sql_mysql: str) -> None:
    with db.cursor() as cursor:
        cursor.execute(sql_pg if db.vendor == "postgresql" else sql_mysql)


def test_the_servers_idle_transaction_timeout_never_costs_a_rotated_pair(fake, login):
    """PostgreSQL's ``idle_in_transaction_session_timeout`` (hosted services set it) shorter
    than Podio's answer: on 277a5ec the session was killed after Podio rotated, the pair lost."""
    if db.vendor != "postgresql":
        pytest.skip("idle_in_transaction_session_timeout is PostgreSQL's")
    stale = make_due(login)
    _set_session("SET idle_in_transaction_session_timeout = '1s'", "")
    fake.latency = 1.5
    client = get_client(connection=stale)
    fake.latency = 0
    stored = PodioConnection.objects.get(pk=login.pk)
    assert client._auth.token == stored.access_token != stale.access_token
    assert tokens.refresh_connection(stored, force=True).outcome is tokens.Outcome.REFRESHED


def test_a_database_session_killed_while_podio_answers_is_replaced_before_the_store(fake, login):
    """An idle session killed by the server (``idle_session_timeout``, ``wait_timeout``, a
    pooler restart) during the round trip: the new pair is stored on a new connection."""
    if db.vendor == "sqlite":
        pytest.skip("SQLite has no server to drop the session")
    stale = make_due(login)
    _set_session("SET idle_session_timeout = '1s'", "SET SESSION wait_timeout = 1")
    fake.latency = 2.0
    result = tokens.refresh_connection(stale)
    fake.latency = 0
    assert result.outcome is tokens.Outcome.REFRESHED
    stored = PodioConnection.objects.get(pk=login.pk)
    assert stored.access_token == result.connection.access_token != stale.access_token
    assert tokens.refresh_connection(stored, force=True).outcome is tokens.Outcome.REFRESHED


def test_a_nul_in_the_token_answers_scope_keeps_the_pair(fake, login):
    """PostgreSQL refuses NUL in text: on 277a5ec the DataError came after Podio rotated."""
    stale = make_due(login)
    fake.token_answer = lambda body: {**body, "scope": "global:all\x00 item:read"}
    result = tokens.refresh_connection(stale)
    fake.token_answer = None
    assert result.outcome is tokens.Outcome.REFRESHED
    stored = PodioConnection.objects.get(pk=login.pk)
    assert stored.scope == "global:all item:read"
    assert tokens.refresh_connection(stored, force=True).outcome is tokens.Outcome.REFRESHED


WRITER = """
import sys, time, django
django.setup()
from django.db import OperationalError
from django_podio.models import PodioItem
from django.utils import timezone
deadline, n, latencies, failures = time.monotonic() + float(sys.argv[1]), 0, [], []
while time.monotonic() < deadline:
    started = time.monotonic()
    try:
        PodioItem.objects.create(item_id=10**9 + n, app_id=1, data={}, fetched_at=timezone.now())
    except OperationalError as error:
        failures.append(str(error))
    latencies.append(time.monotonic() - started)
    n += 1
    time.sleep(0.02)
latencies.sort()
print(len(latencies), len(failures), latencies[int(len(latencies) * 0.95)], failures[:1])
"""


def test_other_writers_of_the_site_are_not_starved_by_a_refresh_run(fake, django_user_model):
    """On 277a5ec with SQLite a webhook-storing process managed 2 writes in a 24.6 s run."""
    from .test_races import make_due_connection, run_refresh_command

    fake.rate_limit_login = 10**6
    for i in range(16):
        make_due_connection(fake, django_user_model, f"busy{i}")
    fake.latency = 0.3
    env = {**os.environ, **child_env(fake)}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, "4"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    (report,) = run_refresh_command(fake, "--concurrency", "4")
    out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err[-2000:]
    writes, failures, p95, first_failure = out.split(" ", 3)
    assert report["refreshed"] == 16
    assert int(failures) == 0, first_failure
    assert int(writes) >= 60  # ~150 when never blocked; a writer starved by the refresh: 2
    assert float(p95) < 0.25, p95  # a refresh holds the write lock for 300 ms on 277a5ec


# The sync's lease ---------------------------------------------------------------------------


@pytest.fixture
def app(fake):
    app = fake.add_app(name="Projects")
    fake.add_items(app.app_id, 120)
    tokens.store_app_connection(app.app_id, app.app_token)
    return app


def test_one_sync_per_app_while_the_first_one_runs(fake, app):
    fake.latency = 0.5
    first, done = in_thread(
        lambda: items.fetch_items(get_client(app_id=app.app_id), app.app_id, store=True)
    )
    deadline = time.monotonic() + 10
    while not PodioItemSync.objects.filter(app_id=app.app_id).exclude(lease_owner="").exists():
        assert time.monotonic() < deadline, "the first sync never claimed the app"
        time.sleep(0.02)
    with pytest.raises(SyncAlreadyRunning):
        items.fetch_items(get_client(app_id=app.app_id), app.app_id, store=True)
    first.join(30)
    assert done["value"].ok and done["value"].created == 120
    state = PodioItemSync.objects.get(app_id=app.app_id)
    assert state.lease_owner == "" and state.last_full_run_finished_at is not None
    again = items.fetch_items(get_client(app_id=app.app_id), app.app_id, store=True)
    assert again.ok and again.unchanged == 120


def test_a_dead_syncs_lease_expires_and_the_next_sync_resumes_from_its_checkpoint(fake, app):
    client = get_client(app_id=app.app_id)
    dead = CacheSync(app.app_id, None, resume=True)  # a worker that claimed, stored, died
    batch = list(client.iter_items(app.app_id))[:50]
    from django_podio.items.fetch import FetchReport

    dead.store(batch, FetchReport(app_id=app.app_id))
    with pytest.raises(SyncAlreadyRunning):
        CacheSync(app.app_id, None, resume=True)
    PodioItemSync.objects.filter(app_id=app.app_id).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    report = items.fetch_items(client, app.app_id, store=True)
    assert report.ok and report.resumed_after == max(i["item_id"] for i in batch)
    assert PodioItem.objects.filter(app_id=app.app_id).count() == 120
    # The dead worker, back from the dead, can no longer write: its lease is gone.
    with pytest.raises(SyncAlreadyRunning):
        dead.store(batch, FetchReport(app_id=app.app_id))
