"""Webhooks under load: 1,000 deliveries for 200 items from 20 concurrent senders.

The fake Podio (this process) creates the hooks through ``sync_hooks``, verifies them, then
holds back the deliveries of 200 new items and 4 edits of each (1,000 events) and lets its
20 sender threads post them all at once to a real Django server (``runserver`` in a child
process on PostgreSQL, processing in-process after each response as in production without a
task backend). Reported: the view's latency as the senders saw it (p50/p99), the number of
``GET /item/{id}`` refetches (aim: at most one per item, thanks to coalescing), and the time
until the ``PodioItem`` cache matches the fake.

Figures (2026-12-03, the shared 2-core machine, PostgreSQL, other helpers' tests beside it):

* runserver (threaded): p50 210 ms, p99 1.22 s, 200 refetches for 200 items, cache matching
  the fake 20.0 s after the first delivery, 1,000/1,000 events done. The p99 is runserver's
  listen backlog (10): 20 senders overflow it and the kernel retries the dropped connections
  after 1 s; with ``--senders 10`` p99 was 215 ms (2026-11-30).
* gunicorn, 4 sync workers (``--server gunicorn``): p50 1.22 s, p99 2.18 s, 200 refetches,
  cache matching after 64.9 s, 1,000/1,000 done. Without a task backend each worker processes
  due events after its response (``drain_in_process``), and a sync worker takes no request
  meanwhile: deliveries queue behind the draining. With a task backend (``TASKS``) the view
  only enqueues; that is the set-up for a production server.

Refetches: one per item. Events naming a revision (``item_revision_id``) no newer than the
cached row's are done without a refetch (Podio numbers an item's revisions upwards:
``revision`` is 0 at creation and +1 per change, podio-api.md §4; the fake's revision ids grow
with it); before that change, 237-256 refetches for 200 items.

Run: .venv/bin/python benchmarks/webhooks.py [--items 200] [--edits 4] [--senders 20]
[--server runserver|gunicorn] [--workers 4]
Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres); it
creates and drops a database named django_podio_bench_hooks.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

from _common import ROOT, point_at, setup_django

BENCH_DB = "django_podio_bench_hooks"


def recreate_database(base_url: str) -> str:
    import psycopg

    parts = urlsplit(base_url)
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    return urlunsplit(parts._replace(path="/" + BENCH_DB))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(server: str, port: int, workers: int) -> list[str]:
    """``runserver`` (threaded, Django's development server) or gunicorn with ``workers``
    sync workers (a production server: ``pip install django-podio[bench]``)."""
    if server == "gunicorn":
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "django.core.wsgi:get_wsgi_application()",
        ]
    return [
        sys.executable,
        "-m",
        "django",
        "runserver",
        f"127.0.0.1:{port}",
        "--noreload",
        "--skip-checks",
    ]


def start_site(
    database_url: str, fake_url: str, port: int, server: str = "runserver", workers: int = 4
) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PODIO_FAKE_URL": fake_url,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": str(ROOT),
    }
    site = subprocess.Popen(
        server_command(server, port, workers),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return site
        time.sleep(0.1)
    site.kill()
    raise RuntimeError("the Django server did not start")


def wait_for(check, timeout: float, what: str) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return time.monotonic() - start


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--edits", type=int, default=4, help="edits per item after creation")
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--server", choices=("runserver", "gunicorn"), default="runserver")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn's workers")
    args = parser.parse_args()

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    database_url = recreate_database(base)
    setup_django(database_url)
    from django.conf import settings
    from django.core.management import call_command

    from django_podio import hooks, tokens
    from django_podio.models import PodioHook, PodioHookEvent, PodioItem
    from django_podio.testing import FakePodio
    from django_podio.testing.seed import default_fields

    call_command("migrate", verbosity=0)
    fake = FakePodio().start()
    fake.rate_limit_general = fake.rate_limit_limited = 10**6
    port = free_port()
    point_at(fake)
    settings.PODIO = {**settings.PODIO, "WEBHOOK_BASE_URL": f"http://127.0.0.1:{port}"}
    site = start_site(database_url, fake.url, port, args.server, args.workers)
    try:
        fields = [f for f in default_fields(0) if f["external_id"] in ("title", "amount")]
        app = fake.add_app(name="Bench", fields=fields)
        connection = tokens.store_app_connection(app.app_id, app.app_token)
        with tokens.get_client(connection=connection) as client:
            report = hooks.sync_hooks(client, connection, app.app_id)
        assert report.ok and len(report.created) == 3, report
        wait_for(lambda: PodioHook.objects.filter(status="active").count() == 3, 30, "verification")
        fake.wait_for_deliveries(30)

        fake.hook_senders = args.senders
        fake.hold_deliveries()
        ids = [
            fake.add_item(app.app_id, fields={"title": f"item {n}", "amount": n})["item_id"]
            for n in range(args.items)
        ]
        for round_ in range(args.edits):
            for item_id in ids:
                fake.update_item(item_id, {"amount": 1000 * (round_ + 1)})
        expected = {i: fake.get_item(i).revision for i in ids}
        fake.reset_log()
        sent_before = len(fake.deliveries)

        started = time.monotonic()
        count = fake.release_deliveries("fifo")
        fake.wait_for_deliveries(600)
        delivered = time.monotonic() - started

        def matches() -> bool:
            cached = dict(PodioItem.objects.values_list("item_id", "revision"))
            return cached == expected

        wait_for(matches, 600, "the cache to match the fake")
        matched = time.monotonic() - started
        wait_for(
            lambda: (
                not PodioHookEvent.objects.filter(status__in=["pending", "processing"]).exists()
            ),
            120,
            "every event processed",
        )
        deliveries = fake.deliveries[sent_before:]
        latencies = [d.elapsed * 1000 for d in deliveries]
        statuses = {d.status for d in deliveries}
        refetches = len([r for r in fake.requests_to("/item/", "GET")])
        events = PodioHookEvent.objects.exclude(type="hook.verify")
        print(
            f"{count} deliveries for {len(ids)} items ({args.edits} edits each) from "
            f"{args.senders} concurrent senders, PostgreSQL, "
            + (
                f"gunicorn ({args.workers} sync workers)"
                if args.server == "gunicorn"
                else "runserver (threaded)"
            )
        )
        print(f"  statuses: {sorted(statuses)}; all sent in {delivered:.2f}s")
        print(
            f"  view latency: p50 {statistics.median(latencies):.1f} ms, "
            f"p99 {percentile(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms"
        )
        print(f"  refetches (GET /item/{{id}}): {refetches} for {len(ids)} items")
        print(f"  cache matched the fake {matched:.2f}s after the first delivery")
        print(
            f"  events: {events.count()} stored, {events.filter(status='done').count()} done, "
            f"{events.filter(status='failed').count()} failed, "
            f"{events.filter(status='dead').count()} dead"
        )
    finally:
        site.terminate()
        site.wait(timeout=10)
        fake.stop()


if __name__ == "__main__":
    main()
