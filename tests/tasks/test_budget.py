"""Issue 11, point 6: a sync that lives within Podio's real budget.

Podio answers a spent pool with 420 "Please wait N seconds" until its window ends. The fake's
window is configurable (``rate_limit_window``), so an hour of Podio's budget can be played in
seconds: here 1 filter call per 6 s window against a 2,000-item app (4 pages of 500), synced
by a real ``db_worker`` on PostgreSQL that is SIGKILLed mid-run and replaced. The sync must
finish with every item, spend at most one 420 per window (its re-enqueue waits out Podio's
wait instead of retrying early) and resume from its checkpoint (no page fetched twice but the
one in flight when the worker died). The fake's own promises (the window's 420 names the real
remaining wait; cached item pages never go stale) are checked on SQLite too.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import pytest
import requests
from django.db import connection as db
from django.utils import timezone

from django_podio import tasks, tokens
from django_podio.models import PodioItem, PodioItemSync

from .engines import Workers, wait_for

# A page takes well under a window to fetch and store (about 1.4 s on a busy CI machine, 3 s
# seen with two test suites beside it), so the sync always asks for a second page inside a
# window and meets the 420 this test is about. (Two calls a window met none in that 3 s run.)
WINDOW = 6.0
PER_WINDOW = 1
ITEMS = 2000
PAGE = 500


def filter_call(fake, app_id: int, token: str, **body) -> requests.Response:
    return requests.post(
        f"{fake.url}/item/app/{app_id}/filter",
        json={"limit": 30, **body},
        headers={"Authorization": f"OAuth2 {token}"},
        timeout=10,
    )


@pytest.fixture
def app_token(fake):
    app = fake.add_app(name="Projects")
    fake.add_items(app.app_id, 40)
    token = fake._issue(fake.client_id, "app", app.app_id, "app:all")["access_token"]
    return app, token


def test_the_420_names_the_wait_until_the_configured_window_ends(fake, app_token):
    app, token = app_token
    fake.rate_limit_window = 10
    fake.rate_limit_limited = 2
    fake.advance(10 - fake.now() % 10 + 3)  # 3 s into a window: 7 s of it left
    assert [filter_call(fake, app.app_id, token).status_code for _ in range(2)] == [200, 200]
    refused = filter_call(fake, app.app_id, token)
    assert refused.status_code == 420
    wait = int(re.search(r"Please wait (\d+) seconds", refused.json()["error_description"])[1])
    assert wait in (7, 8)  # the real rest of the window (rounded up), not an hour
    assert refused.headers["X-Rate-Limit-Remaining"] == "0"
    fake.advance(wait)  # the next window: a fresh budget
    assert filter_call(fake, app.app_id, token).status_code == 200


def test_the_default_window_is_podios_hour(fake, app_token):
    app, token = app_token
    fake.rate_limit_limited = 1
    fake.advance(3600 - fake.now() % 3600 + 600)  # 10 minutes into the hour
    assert filter_call(fake, app.app_id, token).status_code == 200
    refused = filter_call(fake, app.app_id, token)
    assert refused.status_code == 420
    assert "Please wait 3000 seconds" in refused.json()["error_description"]


def test_cached_item_pages_follow_every_change_to_the_apps_items(fake, app_token):
    app, token = app_token
    first = filter_call(fake, app.app_id, token, limit=5, sort_by="item_id", sort_desc=False)
    again = filter_call(fake, app.app_id, token, limit=5, sort_by="item_id", sort_desc=False)
    assert first.content == again.content  # served from the cache: the same bytes
    items = first.json()["items"]
    other = filter_call(fake, app.app_id, token, limit=5, offset=5, sort_by="item_id")
    assert other.json()["items"] != items  # another query is another page

    target = items[1]["item_id"]
    fake.update_item(target, tags=["edited"])
    edited = filter_call(fake, app.app_id, token, limit=5, sort_by="item_id", sort_desc=False)
    page = {i["item_id"]: i for i in edited.json()["items"]}
    assert page[target]["tags"] == ["edited"]
    assert page[target]["revision"] == items[1]["revision"] + 1

    fake.delete_item(target)
    after = filter_call(fake, app.app_id, token, limit=5, sort_by="item_id", sort_desc=False)
    assert target not in {i["item_id"] for i in after.json()["items"]}
    assert after.json()["total"] == 39

    fake.add_item(app.app_id, external_id="new-one")
    newest = filter_call(fake, app.app_id, token, limit=1, sort_by="item_id", sort_desc=True)
    assert newest.json()["items"][0]["external_id"] == "new-one"

    odd_id = after.json()["items"][0]["item_id"]
    fake.serve_odd_item(odd_id, title="odd")
    odd = filter_call(fake, app.app_id, token, limit=5, sort_by="item_id", sort_desc=False)
    assert odd.json()["items"][0]["title"] == "odd"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not tasks.available(), reason="needs Django's Tasks API")
def test_a_large_sync_lives_within_the_budget_and_survives_a_killed_worker(
    fake, tmp_path, monkeypatch
):
    if db.vendor == "sqlite":
        pytest.skip("real task workers run on PostgreSQL and MariaDB (make test-postgres)")
    monkeypatch.setenv("PODIO_TEST_SYNC_LEASE", "3")  # the workers' sync lease, in seconds
    app = fake.add_app(name="Projects")
    fake.add_items(app.app_id, ITEMS)
    tokens.store_app_connection(app.app_id, app.app_token)
    fake.rate_limit_window = WINDOW
    fake.rate_limit_limited = PER_WINDOW
    fake.reset_log()
    fake.latency = 0.2  # each page takes a while: the kill lands mid-run

    def stored() -> int:
        state = PodioItemSync.objects.filter(app_id=app.app_id).first()
        return 0 if state is None else state.cursor_count

    def finished() -> bool:
        state = PodioItemSync.objects.filter(app_id=app.app_id).first()
        return state is not None and state.last_full_run_finished_at is not None

    first = Workers("db", fake, count=1).start(tmp_path)
    try:
        tasks.enqueue_sync(app.app_id, since=None, backend="db")
        wait_for(lambda: stored() >= PAGE, 30, first)
        first.kill(0)  # SIGKILL: its task stays claimed; cron enqueues the sync again
    finally:
        first.stop()
    at_kill = stored()
    assert 0 < at_kill < ITEMS
    # The killed worker's lease on the app's sync row runs out; until then one sync per app
    # holds even though its holder is dead.
    state = PodioItemSync.objects.get(app_id=app.app_id)
    assert state.lease_owner and state.lease_expires_at is not None
    wait_for(lambda: timezone.now() > state.lease_expires_at, 10)
    before_kill = len(fake.requests_to(f"/item/app/{app.app_id}/filter", method="POST"))
    (tmp_path / "second").mkdir()
    with Workers("db", fake, count=1).start(tmp_path / "second") as second:
        tasks.enqueue_sync(app.app_id, since=None, backend="db")
        wait_for(finished, 60, second)
    assert PodioItem.objects.filter(app_id=app.app_id).count() == ITEMS

    calls = fake.requests_to(f"/item/app/{app.app_id}/filter", method="POST")
    # The fake counts a call after its latency: that is the window the call was spent in.
    spent_in = [int((r.time + fake.latency) // WINDOW) for r in calls]
    refused = [
        (n, w) for n, (w, r) in enumerate(zip(spent_in, calls, strict=True)) if r.status == 420
    ]
    # At most one 420 per window from each worker's life: the re-enqueued task waits out
    # Podio's wait. The killed worker may have met its 420 (its request in flight when it
    # died) without living to record the wait; then the first sync after it meets the same
    # window's 420 once more. (That cron's enqueue during a recorded wait spends nothing is
    # test_tasks.py::test_rate_limited_sync_resumes_from_its_checkpoint's to show.)
    killed = Counter(w for n, w in refused if n < before_kill)
    after = Counter(w for n, w in refused if n >= before_kill)
    assert refused and max(killed.values(), default=1) == max(after.values(), default=1) == 1, (
        killed,
        after,
    )
    served = Counter(w for w, r in zip(spent_in, calls, strict=True) if r.status == 200)
    assert len(served) >= math.ceil(ITEMS / PAGE / PER_WINDOW)  # it did span the windows
    # Resumed from the checkpoint, not from the start: the first page was fetched once, and
    # after the kill nothing before the stored items was fetched again.
    odd = [(r.status, r.body[:200]) for r in calls if r.status == 200 and r.json is None]
    assert not odd, odd  # every page answered was asked for with its offset
    offsets = [r.json["offset"] for r in calls if r.status == 200]
    assert offsets.count(0) == 1, offsets
    after = [r.json["offset"] for r in calls[before_kill:] if r.status == 200]
    assert after and min(after) >= at_kill - 1, (at_kill, after)
