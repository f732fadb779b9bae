"""podio_refresh at scale on PostgreSQL and on SQLite: wall time vs the ideal, queries, memory.

(1) In process, N due connections and LATENCY per request on the fake: ``refresh_due`` at
    concurrency 1 and 8, each compared with the ideal N x latency / concurrency, and the
    database statements each refresh costs (cron: a page read per 500 rows, a claim per batch
    of 8, a store per refresh; no transaction around any of them). Beside each, the same
    number of refresh grants sent by a bare ``requests.Session`` loop at the same concurrency
    (no database, no encryption): the floor any Python client reaches on this machine.
(2) ``--writers``: another process of the site writing every 20 ms while a refresh run at
    300 ms per request goes on: how many of its writes succeed, how many fail with "database
    is locked", and their 95th percentile latency.
(3) Memory at N and 10 x N due connections: the Python heap peak of ``refresh_due``
    (tracemalloc) and the peak RSS of the real cron command (``manage.py podio_refresh
    --concurrency 8``) in a child process.

The fake Podio runs in its own process, as Podio would be remote.
Run: .venv/bin/python benchmarks/refresh.py [--n 2000] [--latency 0.03] [--database all]
PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres): it creates and
drops a database named django_podio_bench; MariaDB (MARIADB_URL, default the CI user's
test_django_podio_bench) likewise. SQLite: a file database in a temporary directory,
in WAL mode with a busy timeout, as the docs require.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

from _common import ROOT, point_at, setup_django, timed
from _fakeproc import RemoteFake

BENCH_DB = "django_podio_bench"


def recreate_sqlite() -> str:
    path = os.path.join(tempfile.mkdtemp(prefix="django_podio_bench_"), "bench.sqlite3")
    os.environ["SQLITE_PATH"] = path
    os.environ["DATABASE_URL"] = ""
    return path


MARIADB_URL = "mysql://django_podio:django_podio@127.0.0.1:3306/test_django_podio_bench"


def recreate_mariadb(url: str) -> str:
    """A fresh database on MariaDB/MySQL (the CI user may create ``test_*`` databases)."""
    import MySQLdb

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    conn = MySQLdb.connect(
        host=parts.hostname, port=parts.port or 3306, user=parts.username, passwd=parts.password
    )
    try:
        cursor = conn.cursor()
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    finally:
        conn.close()
    return url


def recreate_database(base_url: str) -> str:
    import psycopg

    parts = urlsplit(base_url)
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    return urlunsplit(parts._replace(path="/" + BENCH_DB))


def make_due(fake: RemoteFake, n: int) -> None:
    """N users with live Podio tokens whose access tokens expire within the margin."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from django_podio.models import PodioConnection

    User = get_user_model()
    PodioConnection.objects.all().delete()
    User.objects.all().delete()
    users = User.objects.bulk_create(
        [User(username=f"bench{i}", password="!") for i in range(n)], batch_size=2000
    )
    soon = timezone.now() + timedelta(seconds=60)
    rows = []
    minted = fake.mint(n, 10_000_000)
    for i, (user, (access, refresh)) in enumerate(zip(users, minted, strict=True)):
        rows.append(
            PodioConnection(
                user=user,
                access_token=access,
                refresh_token=refresh,
                expires_at=soon,
                ref_type="user",
                ref_id=10_000_000 + i,
            )
        )
    PodioConnection.objects.bulk_create(rows, batch_size=2000)


def make_due_again() -> None:
    from django.utils import timezone

    from django_podio.models import PodioConnection

    PodioConnection.objects.update(expires_at=timezone.now() + timedelta(seconds=60))


class QueryCounter:
    """Counts SQL statements on every connection, the worker threads' included."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def __call__(self, execute, sql, params, many, context):
        with self.lock:
            self.count += 1
        return execute(sql, params, many, context)

    def install(self) -> None:
        from django.db import connections
        from django.db.backends.signals import connection_created

        def on_created(sender, connection, **kwargs):
            if self not in connection.execute_wrappers:
                connection.execute_wrappers.append(self)

        connection_created.connect(on_created, weak=False)
        for connection in connections.all():  # this thread's, opened before (migrate)
            on_created(None, connection)


def raw_loop(fake, n: int, concurrency: int) -> float:
    """The floor any Python client reaches here: ``concurrency`` threads, each posting refresh
    grants with a bare ``requests.Session`` (keep-alive), no database, no encryption."""
    import time

    import requests

    from django_podio import conf

    spendable = [refresh for _, refresh in fake.mint(n, 20_000_000)]
    credentials, url = conf.get_app_credentials(), conf.token_url()

    def run(chunk: list[str]) -> None:
        with requests.Session() as session:
            for token in chunk:
                body = {
                    "grant_type": "refresh_token",
                    "client_id": credentials.client_id,
                    "client_secret": credentials.secret,
                    "refresh_token": token,
                }
                session.post(url, data=body, timeout=(5, 30)).raise_for_status()

    threads = [
        threading.Thread(target=run, args=(spendable[i::concurrency],)) for i in range(concurrency)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def _own_peak_kib(pid: int) -> int | None:
    """The child's own high-water RSS (VmHWM), or None once it has exited."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cron_peak_rss(fake, db_url: str) -> tuple[float, int, int]:
    """Run the real cron command in a child; return (wall seconds, refreshed, peak RSS MiB).

    The peak is the child's own VmHWM, polled until it exits. Not ``wait4``'s ``ru_maxrss``:
    a child started with vfork/exec (as ``subprocess`` does on Linux) inherits in it the
    parent's high-water RSS, so it reported this benchmark's own growth (83 -> 113 MiB from
    2,000 to 20,000 connections) as the command's.
    """
    import json
    import time

    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "PODIO_FAKE_URL": fake.url,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "django", "podio_refresh", "--concurrency", "8", "--json"]
    start = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    peak = 0
    chunks: list[str] = []
    reader = threading.Thread(target=lambda: chunks.append(child.stdout.read()))
    reader.start()
    while child.poll() is None:
        peak = max(peak, _own_peak_kib(child.pid) or 0)
        time.sleep(0.02)
    reader.join()
    elapsed = time.perf_counter() - start
    report = json.loads("".join(chunks))
    assert report["failed"] == 0 and report["reauth_required"] == 0, report
    return elapsed, report["refreshed"], peak // 1024


WRITER = """
import json, sys, time, django
django.setup()
from django.db import OperationalError
from django.utils import timezone
from django_podio.models import PodioItem
deadline, n, ok, locked, other, latencies = time.monotonic() + float(sys.argv[1]), 0, 0, 0, 0, []
while time.monotonic() < deadline:
    started = time.monotonic()
    try:
        PodioItem.objects.create(item_id=10**12 + n, app_id=1, data={}, fetched_at=timezone.now())
        ok += 1
    except OperationalError as error:
        locked += "locked" in str(error)
        other += "locked" not in str(error)
    latencies.append(time.monotonic() - started)
    n += 1
    time.sleep(0.02)
latencies.sort()
print(json.dumps({"attempts": n, "ok": ok, "locked": locked, "other": other,
                  "p95": latencies[int(len(latencies) * 0.95)] if latencies else None}))
"""


def writers_during_refresh(fake, db_url: str, n: int) -> None:
    """Another process writing every 20 ms while ``refresh_due`` runs at 300 ms a request."""
    import json
    import time

    from django_podio import tokens

    make_due(fake, n)
    fake.set("latency", 0.3)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "PODIO_FAKE_URL": fake.url,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": str(ROOT),
    }
    expected = n * 0.3 / 8
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, f"{expected:.1f}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    start = time.perf_counter()
    report = tokens.refresh_due(concurrency=8)
    wall = time.perf_counter() - start
    out, _ = writer.communicate(timeout=600)
    got = json.loads(out)
    assert report.refreshed == n and report.ok, report.as_dict()
    share = got["ok"] / max(1, got["attempts"])
    print(
        f"writers during a refresh run of {n} at 300 ms (concurrency 8, {wall:.1f} s): "
        f"{got['ok']}/{got['attempts']} writes succeeded ({share:.1%}), "
        f"{got['locked']} 'database is locked', p95 {got['p95'] * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.03)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-only", action="store_true")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument(
        "--writers", type=int, default=0, metavar="N", help="also measure other writers (N due)"
    )
    parser.add_argument(
        "--database", choices=["postgres", "sqlite", "mariadb", "all"], default="all"
    )
    args = parser.parse_args()
    if args.database == "all":  # one child per database: Django is configured once a process
        for database in ("postgres", "mariadb", "sqlite"):
            argv = [a for a in sys.argv[1:] if a not in ("--database", "all")]
            subprocess.run([sys.executable, __file__, *argv, "--database", database], check=True)
        return
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    if args.database == "mariadb":
        db_url = recreate_mariadb(os.environ.get("MARIADB_URL", MARIADB_URL))
        setup_django(db_url)
    elif args.database == "sqlite":
        recreate_sqlite()
        db_url = ""
        setup_django(None)
    else:
        db_url = recreate_database(base)
        setup_django(db_url)
    from django.core.management import call_command

    from django_podio import tokens

    call_command("migrate", verbosity=0)
    counter = QueryCounter()
    counter.install()
    n, latency = args.n, args.latency
    with RemoteFake() as fake:
        point_at(fake)
        fake.set("rate_limit_login", 10**9)
        fake.set("rate_limit_general", 10**9)
        make_due(fake, n)
        fake.set("latency", latency)
        print(
            f"N = {n} due connections, {latency * 1000:.0f} ms per request on the fake, "
            + {"sqlite": "SQLite (file, WAL)", "mariadb": "MariaDB", "postgres": "PostgreSQL"}[
                args.database
            ]
        )
        spent = fake.refresh_grants_used()
        for concurrency in [] if args.memory_only else args.concurrency:
            make_due_again()
            counter.count = 0
            report = None

            def run(c=concurrency):
                nonlocal report
                report = tokens.refresh_due(concurrency=c)

            import resource

            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            wall = timed(run)
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
            assert report.refreshed == n and report.ok, report.as_dict()
            assert fake.refresh_grants_used() == spent + n
            spent += n
            ideal = n * latency / concurrency
            print(
                f"concurrency {concurrency}: {wall:7.2f} s  ideal {ideal:6.2f} s  "
                f"ratio {wall / ideal:.2f}x  queries/refresh {counter.count / n:.2f}  "
                f"our CPU/refresh {cpu / n * 1000:.2f} ms"
            )
            spent += n
            raw = raw_loop(fake, n, concurrency)
            print(
                f"  raw requests.Session loop, same fake and concurrency: {raw:7.2f} s  "
                f"ratio {raw / ideal:.2f}x; refresh_due / raw loop {wall / raw:.2f}x"
            )

        if args.writers:
            writers_during_refresh(fake, db_url, args.writers)

        if not args.skip_memory:
            import gc
            import tracemalloc

            fake.set("latency", 0.0)
            for size in (n, 10 * n):
                make_due(fake, size)
                gc.collect()
                tracemalloc.start()
                report = tokens.refresh_due(concurrency=8)
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                assert report.refreshed == size and report.ok
                print(
                    f"refresh_due N = {size:6d}: Python heap peak {peak / 1024:.0f} KiB "
                    "(tracemalloc, in process)"
                )
                make_due_again()
                wall, refreshed, rss = cron_peak_rss(fake, db_url)
                print(
                    f"podio_refresh (child) N = {size:6d}: {wall:6.2f} s, "
                    f"{refreshed} refreshed, peak RSS {rss} MiB (its own VmHWM)"
                )

    from django.db import connections

    connections.close_all()
    if args.database == "sqlite":
        return
    if args.database == "mariadb":
        recreate_mariadb(db_url)
        return
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
