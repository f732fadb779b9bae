"""Refreshes on real task workers: wall time with 1, 2 and 4 worker processes vs the ideal.

N due connections on PostgreSQL; the fake Podio in its own process with LATENCY per request.
For each engine (django-tasks-db's ``db_worker``; Celery on Redis through
``django_podio.contrib.celery``), each worker count W and each batch size B, the workers are
started first (their start-up is not timed), then ``enqueue_due(batch_size=B)`` enqueues and
the clock runs until no connection is due. Ideal = N x LATENCY / W; the ratio ideal / wall is
the share of linear speed-up reached (1.0 = perfect).

Run: .venv/bin/python benchmarks/scale.py [--n 1000] [--latency 0.03] [--workers 1 2 4]
     [--engines db celery] [--batches 1 50]
PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres): it creates and
drops a database named django_podio_scale. Redis at 127.0.0.1:6379 for Celery.

Measured 2026-11-30 on a 2-core VM shared with other jobs (so 4 workers share 2 cores),
PostgreSQL, Django 5.2, ``benchmarks/scale.py --n 600`` (ratio = ideal / wall):

    engine   workers batch   wall s  ideal s  ratio
    db             1     1    49.43    18.00   0.36
    db             2     1    23.26     9.00   0.39
    db             4     1    13.59     4.50   0.33
    db             1    50    29.70    18.00   0.61
    db             2    50    11.62     9.00   0.77
    db             4    50     7.80     4.50   0.58
    celery         1     1    36.38    18.00   0.49
    celery         2     1    16.01     9.00   0.56
    celery         4     1     8.20     4.50   0.55
    celery         1    50    22.63    18.00   0.80
    celery         2    50    13.23     9.00   0.68
    celery         4    50     7.64     4.50   0.59

Speed-up from 1 to 4 workers is 3.0-4.4x (near linear between processes); what keeps the ratio
to the ideal low is the cost per refresh besides Podio's 30 ms (claiming the task, the refresh's
own transaction and row lock, encrypting the new pair), about 50 ms per task one at a time and
20 ms in batches, on a machine whose 2 cores the workers, PostgreSQL and the fake share.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, point_at, setup_django
from _fakeproc import RemoteFake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.03)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--engines", nargs="+", default=["db", "celery"])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 50])
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import refresh
    from refresh import make_due, recreate_database

    refresh.BENCH_DB = "django_podio_scale"  # its own database: refresh.py may run meanwhile
    setup_django(recreate_database(base))
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    sys.path.insert(0, str(ROOT))
    from django_podio import tasks, tokens
    from tests.tasks.engines import Workers

    print(f"N = {args.n} due connections, {args.latency * 1000:.0f} ms per request on the fake")
    print(f"{'engine':8} {'workers':>7} {'batch':>5} {'wall s':>8} {'ideal s':>8} {'ratio':>6}")
    with RemoteFake() as fake:
        point_at(fake)
        fake.set("rate_limit_login", 10**9)
        for engine in args.engines:
            for batch in args.batches:
                for count in args.workers:
                    make_due(fake, args.n)
                    fake.set("latency", args.latency)
                    workers = Workers(engine, fake, count=count)
                    with workers.start(Path(tempfile.mkdtemp(prefix="podio_scale_"))):
                        time.sleep(5)  # start-up (imports, broker connection) is not timed
                        started = time.perf_counter()
                        tasks.enqueue_due(batch_size=batch, backend=engine)
                        while tokens.due_connections().exists():
                            time.sleep(0.05)
                        wall = time.perf_counter() - started
                    fake.set("latency", 0.0)
                    ideal = args.n * args.latency / count
                    print(
                        f"{engine:8} {count:7d} {batch:5d} {wall:8.2f} {ideal:8.2f} "
                        f"{ideal / wall:6.2f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
