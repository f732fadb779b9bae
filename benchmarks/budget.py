"""A large sync on a real worker within Podio's budget, with the hour played in seconds.

Podio allows 250 calls an hour to the "limited" pool (the item filter among them) and answers
the 251st with 420 "Please wait N seconds" until the hour is over. Here the fake's window is
WINDOW seconds with PER_WINDOW filter calls each; ``sync_app`` of an app of N items (pages of
500) runs on one django-tasks-db ``db_worker`` on PostgreSQL, unattended. With ``--kill`` the
worker is SIGKILLed after its first stored page and a new worker plus a new enqueue (what cron
does) finish from the checkpoint.

Printed: the windows the sync spanned (and how many Podio calls each), the 420s received per
window (the aim: at most one, the re-enqueued task waiting out Podio's wait), the total time,
and what the real case would take: a 1,000,000-item app at 250 filter calls an hour.

Run: .venv/bin/python benchmarks/budget.py [--items 20000] [--window 10] [--per-window 3]
     [--latency 0.05] [--kill]
PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres): it creates and
drops a database named django_podio_budget.

Measured 2026-11-30 on a 2-core VM shared with other jobs, Django 5.2, the defaults:
see the figures in docs/tasks.rst ("Podio's hourly budget").
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _common import ROOT, point_at, setup_django

PAGE = 500
#: Seconds of the workers' sync lease with ``--kill``: the killed worker's lease runs out.
KILL_LEASE = 3

#: The real case: Podio's limited pool per hour, and an app of a million items.
REAL_LIMIT, REAL_WINDOW, REAL_ITEMS = 250, 3600, 1_000_000


def pages_for(items: int) -> int:
    """Filter calls of one unthrottled full run: pages of 500 overlap by one item."""
    return math.ceil((items - 1) / (PAGE - 1)) if items > 1 else 1


def real_case(page_seconds: float, max_spread: float, refetch: float) -> tuple[int, float, float]:
    """Hourly windows, and fastest and slowest wall time (s), of the real sync under the same
    re-enqueue rules, when each resume fetches ``refetch`` pages again (measured here).

    Every window but the last is spent at once and waited out; the sync starts anywhere in its
    first window (fastest: at its end), comes back at most ``max_spread`` after each window
    begins, and pages the last window's share at ``page_seconds`` a page.
    """
    pages = pages_for(REAL_ITEMS)
    useful = REAL_LIMIT - refetch  # after a resume
    windows = 1 + math.ceil(max(0, pages - REAL_LIMIT) / useful)
    last = pages - REAL_LIMIT - (windows - 2) * useful + refetch
    tail = last * page_seconds
    slowest = (windows - 1) * REAL_WINDOW + max_spread + tail
    fastest = (windows - 2) * REAL_WINDOW + tail
    return windows, fastest, slowest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20000)
    parser.add_argument("--window", type=float, default=10.0, help="seconds per rate window")
    parser.add_argument("--per-window", type=int, default=3, help="filter calls per window")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument(
        "--real-page-seconds",
        type=float,
        default=2.0,
        help="what a 500-item page costs against the real Podio (an assumption)",
    )
    parser.add_argument("--kill", action="store_true", help="SIGKILL the worker mid-run")
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    if args.kill:  # the workers' sync lease (tests/settings.py reads it), not 10 minutes
        os.environ["PODIO_TEST_SYNC_LEASE"] = str(KILL_LEASE)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import refresh
    from refresh import recreate_database

    refresh.BENCH_DB = "django_podio_budget"  # its own database: other benchmarks may run
    setup_django(recreate_database(base))
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    sys.path.insert(0, str(ROOT))
    from django.utils import timezone

    from django_podio import tasks, tokens
    from django_podio.models import PodioItem, PodioItemSync
    from django_podio.testing import FakePodio
    from tests.tasks.engines import Workers, wait_for

    pages = pages_for(args.items)
    ideal = math.ceil(pages / args.per_window)
    print(
        f"{args.items} items = {pages} pages of {PAGE} (overlapping by one); "
        f"{args.per_window} filter calls per {args.window:g} s window (ideal: {ideal} windows); "
        f"{args.latency * 1000:.0f} ms a request"
    )
    # The fake in this process: the worker is its own process, this one only polls.
    with FakePodio() as fake:
        point_at(fake)
        app = fake.add_app(name="Budget")
        fake.add_items(app.app_id, args.items)
        tokens.store_app_connection(app.app_id, app.app_token)
        fake.rate_limit_window = args.window
        fake.rate_limit_limited = args.per_window
        fake.latency = args.latency
        fake.reset_log()

        def state() -> PodioItemSync | None:
            return PodioItemSync.objects.filter(app_id=app.app_id).first()

        def finished() -> bool:
            found = state()
            return found is not None and found.last_full_run_finished_at is not None

        tmp = Path(tempfile.mkdtemp(prefix="podio_budget_"))
        workers = Workers("db", fake, count=1).start(tmp)
        try:
            time.sleep(3)  # the worker's start-up is not timed
            started = time.monotonic()
            tasks.enqueue_sync(app.app_id, since=None, backend="db")
            if args.kill:
                wait_for(lambda: (state() or PodioItemSync()).cursor_count > 0, 120, workers)
                workers.kill(0)
                print(f"worker SIGKILLed with {state().cursor_count} items stored")
                workers.stop()
                # The dead worker's lease on the app's sync row runs out first (SYNC_LEASE,
                # shortened for this run): until then one sync per app holds.
                expires = state().lease_expires_at
                if expires is not None:
                    wait_for(lambda: timezone.now() > expires, KILL_LEASE + 10)
                (tmp / "after-kill").mkdir()
                workers = Workers("db", fake, count=1).start(tmp / "after-kill")
                tasks.enqueue_sync(app.app_id, since=None, backend="db")
            wait_for(finished, 30 * ideal * args.window + 120, workers)
            wall = time.monotonic() - started
        finally:
            workers.stop()
        stored = PodioItem.objects.filter(app_id=app.app_id).count()
        calls = fake.requests_to(f"/item/app/{app.app_id}/filter", method="POST")

    def window(t: float) -> int:  # the fake counts a call after its latency
        return int((t + args.latency) // args.window)

    served = Counter(window(r.time) for r in calls if r.status == 200)
    refused = Counter(window(r.time) for r in calls if r.status == 420)
    first, last = min(served), max(served)
    print(f"stored {stored} of {args.items} items; {sum(served.values())} pages served")
    print(f"windows spanned: {last - first + 1} (ideal {ideal}); with calls: {len(served)}")
    print("window  pages  420s")
    for w in range(first, last + 1):
        print(f"{w - first:6d} {served.get(w, 0):6d} {refused.get(w, 0):5d}")
    worst = max(refused.values(), default=0)
    print(f"most 420s in one window: {worst} (aim: at most 1); total 420s: {sum(refused.values())}")
    print(f"total time: {wall:.1f} s ({wall / args.window:.1f} windows)")
    resumes = sum(refused.values())
    refetch = (sum(served.values()) - pages_for(args.items)) / resumes if resumes else 0.0
    print(f"pages fetched again per resume: {refetch:.2f}")
    windows, fastest, slowest = real_case(args.real_page_seconds, tasks.MAX_SPREAD, refetch)
    print(
        f"real case: {REAL_ITEMS:,} items = {pages_for(REAL_ITEMS)} pages at {REAL_LIMIT} an "
        f"hour = {windows} hourly windows: {fastest / 3600:.1f} to {slowest / 3600:.1f} h "
        f"(pages at {args.real_page_seconds:g} s, re-enqueue spread <= {tasks.MAX_SPREAD} s)"
    )


if __name__ == "__main__":
    main()
