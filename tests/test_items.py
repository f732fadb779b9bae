"""Item fetching against the fake Podio: paging, faults, changes while paging, the cache."""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_podio import get_client, items, tokens
from django_podio.api import oauth
from django_podio.api.client import PodioClient
from django_podio.conf import AppCredentials
from django_podio.models import PodioItem, PodioItemSync
from django_podio.testing.seed import default_fields
from django_podio.values import as_text, item_values

# Paging does not care what is in an item; fewer fields keep the fake (and the suite) fast.
LIGHT_FIELDS = [f for f in default_fields(0) if f["external_id"] in ("title", "amount", "status")]


@pytest.fixture
def app(fake):
    fake.rate_limit_general = fake.rate_limit_limited = 10**6
    return fake.add_app(name="Projects", fields=LIGHT_FIELDS)


def client_for(fake, app, sleeper) -> PodioClient:
    """A client on the app's own token (app authentication), no database involved."""
    token = oauth.app_auth(
        app.app_id, app.app_token, credentials=AppCredentials(fake.client_id, fake.client_secret)
    )
    return PodioClient(token.access_token, api_url=fake.url, sleep=sleeper, max_retries=6)


@pytest.fixture
def api(fake, app, sleeper):
    with client_for(fake, app, sleeper) as c:
        yield c


def filter_calls(fake, app) -> list:
    return fake.requests_to(f"/item/app/{app.app_id}/filter", method="POST")


def podio_ids(fake, app) -> list[int]:
    return sorted(fake.apps[app.app_id].items)


def podio_revisions(fake, app) -> dict[int, int]:
    return {i: item.revision for i, item in fake.apps[app.app_id].items.items()}


# The client: iter_items -------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [1, 4])
def test_1234_items_in_three_filter_calls(fake, app, api, concurrency):
    expected = fake.add_items(app.app_id, 1234)
    stream = api.iter_items(app.app_id, concurrency=concurrency)
    got = [item["item_id"] for item in stream]
    assert got == sorted(expected) and len(set(got)) == 1234
    calls = filter_calls(fake, app)
    assert len(calls) == 3 == stream.pages
    assert {c.json["limit"] for c in calls} == {500}
    assert all(c.json["sort_by"] == "item_id" and c.json["sort_desc"] is False for c in calls)
    assert stream.total == stream.filtered == 1234


def test_concurrent_pages_keep_the_order_of_sequential_ones(fake, app, api):
    fake.add_items(app.app_id, 400)
    sequential = [i["item_id"] for i in api.iter_items(app.app_id, page_size=40)]
    sequential_calls = len(filter_calls(fake, app))
    fake.reset_log()
    concurrent = [i["item_id"] for i in api.iter_items(app.app_id, page_size=40, concurrency=4)]
    assert concurrent == sequential and len(sequential) == 400
    assert len(filter_calls(fake, app)) == sequential_calls == 11  # 1 + ceil(360 / 39)


def test_10_percent_faults_still_give_a_complete_exact_export(
    fake, app, api, sleeper, podio_settings
):
    podio_settings(PAGE_SIZE=10)  # many requests, so 10 % of them is many faults
    expected = fake.add_items(app.app_id, 600)
    fake.set_fault_rate(0.1)
    out = io.StringIO()
    report = items.fetch_items(api, app.app_id, output=out, concurrency=4)
    assert report.ok and report.requests == 67  # 1 + ceil(590 / 9)
    got = [json.loads(line)["item_id"] for line in out.getvalue().splitlines()]
    assert got == sorted(expected)
    calls = filter_calls(fake, app)
    retries = len(calls) - report.requests
    assert retries > 0 and len(sleeper.calls) == retries  # each fault was retried after a pause
    assert {0, 500} <= {c.status for c in calls} or {0, 502} <= {c.status for c in calls}


def test_rate_limit_in_the_middle_waits_and_continues(fake, app, api, sleeper):
    expected = fake.add_items(app.app_id, 600)
    got = []
    for n, item in enumerate(api.iter_items(app.app_id, page_size=100, concurrency=2)):
        got.append(item["item_id"])
        # While page 1 is read, pages 2 and 3 are in flight (two ahead): pages 4 and 5 are
        # still to be asked, however fast the workers were.
        if n == 150:
            fake.add_rate_limit(7, path=f"/item/app/{app.app_id}/filter", count=2)
    assert got == sorted(expected)
    assert sleeper.calls.count(7) == 2
    assert 420 in {c.status for c in filter_calls(fake, app)}


@pytest.mark.parametrize("concurrency", [1, 3])
def test_items_deleted_behind_the_pager_do_not_make_it_skip(fake, app, api, concurrency):
    fake.add_items(app.app_id, 600)
    got, deleted = [], []
    for n, item in enumerate(api.iter_items(app.app_id, page_size=100, concurrency=concurrency)):
        got.append(item["item_id"])
        if n in (150, 420):  # delete items already passed: everything after shifts left
            victims = podio_ids(fake, app)[n - 40 : n - 37]
            for item_id in victims:
                fake.delete_item(item_id)
            deleted += victims
    assert len(got) == len(set(got))
    assert set(got) == set(podio_ids(fake, app)) | set(deleted)


def test_items_created_and_edited_while_paging(fake, app, api):
    fake.add_items(app.app_id, 500)
    got = []
    for n, item in enumerate(api.iter_items(app.app_id, page_size=100)):
        got.append(item["item_id"])
        if n == 120:
            ids = podio_ids(fake, app)
            fake.update_item(ids[10], {"title": "edited behind"})
            fake.update_item(ids[300], {"title": "edited ahead"})
            fake.add_item(app.app_id, fields={"title": "new while paging"})
    assert got == podio_ids(fake, app)  # the new item (highest id) arrives last, once


def test_stopping_early_leaves_no_pages_behind(fake, app, api):
    fake.add_items(app.app_id, 300)
    stream = api.iter_items(app.app_id, page_size=50, concurrency=4)
    first = [next(stream)["item_id"] for _ in range(10)]
    stream.close()
    before = len(filter_calls(fake, app))
    assert first == podio_ids(fake, app)[:10]
    assert before <= 1 + 4  # the first page and at most a window of prefetched ones
    assert not [t for t in threading.enumerate() if t.name.startswith("podio-items")]


def test_resume_after_an_item_id(fake, app, api):
    fake.add_items(app.app_id, 900)
    ids = podio_ids(fake, app)
    got = [
        i["item_id"] for i in api.iter_items(app.app_id, after_item_id=ids[799], start_offset=799)
    ]
    assert got == ids[800:]
    assert [c.json["offset"] for c in filter_calls(fake, app)] == [799]
    fake.reset_log()
    # A hint that overshoots (items before it were deleted meanwhile) steps back: no gap.
    fake.delete_item(ids[5])
    got = [
        i["item_id"] for i in api.iter_items(app.app_id, after_item_id=ids[799], start_offset=799)
    ]
    assert got == ids[800:]
    assert len(filter_calls(fake, app)) == 3


def test_token_expiring_under_concurrent_pages_is_refreshed_by_the_caller(fake, app):
    fake.add_items(app.app_id, 1000)
    creds = AppCredentials(fake.client_id, fake.client_secret)
    refreshed_in = []

    def refresh(stale):
        refreshed_in.append(threading.current_thread().name)
        return oauth.app_auth(app.app_id, app.app_token, credentials=creds).access_token

    token = oauth.app_auth(app.app_id, app.app_token, credentials=creds).access_token
    with PodioClient(token, api_url=fake.url, refresh=refresh) as c:
        got = []
        for n, item in enumerate(c.iter_items(app.app_id, page_size=100, concurrency=4)):
            got.append(item["item_id"])
            if n == 150:  # pages 2-5 are in flight (four ahead); 6-9 are asked after this
                fake.expire_access_tokens()
    assert got == podio_ids(fake, app)
    assert refreshed_in and set(refreshed_in) == {threading.main_thread().name}


def test_bad_arguments(api, app):
    with pytest.raises(ValueError):
        api.iter_items(app.app_id, page_size=501)
    with pytest.raises(ValueError):
        api.iter_items(app.app_id, concurrency=0)
    with pytest.raises(ValueError):
        api.iter_items(app.app_id, sort_by="created_on", after_item_id=5)


# The service: export ----------------------------------------------------------------------


def test_parse_since_forms():
    want = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert items.parse_since("2024-05-01 12:00:00") == want
    assert items.parse_since("2024-05-01T12:00:00Z") == want
    assert items.parse_since("2024-05-01T14:00:00+02:00") == want
    assert items.parse_since("2024-05-01") == datetime(2024, 5, 1, tzinfo=UTC)
    assert items.podio_time(items.parse_since("2024-05-01T14:00:00+02:00")) == "2024-05-01 12:00:00"
    assert items.podio_time(datetime(2024, 5, 1, 12)) == "2024-05-01 12:00:00"  # naive = UTC
    with pytest.raises(ValueError):
        items.parse_since("yesterday")


def test_csv_and_json_lines_agree_item_by_item(fake, sleeper, tmp_path):
    app = fake.add_app(name="Every field type")  # the fake's full field set
    api = client_for(fake, app, sleeper)
    fake.add_items(app.app_id, 120)
    fake.add_item(app.app_id, fields={"title": 'Quotes " and, commas\nand lines'})
    jsonl, csv_path = tmp_path / "items.jsonl", tmp_path / "items.csv"
    assert items.fetch_items(api, app.app_id, output=jsonl).ok
    report = items.fetch_items(api, app.app_id, output=csv_path, fmt="csv", concurrency=3)
    assert report.ok and report.written == 121
    import csv

    lines = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    with csv_path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(lines) == len(rows) == 121
    external_ids = [f["external_id"] for f in fake.apps[app.app_id].fields]
    for item, row in zip(lines, rows, strict=True):
        assert int(row["item_id"]) == item["item_id"]
        assert row["revision"] == str(item["revision"])
        assert row["last_event_on"] == item["last_event_on"]
        values = item_values(item)
        for key in external_ids:
            column = key if key not in items.CSV_BASE_COLUMNS else None
            assert column is not None
            assert row[column] == as_text(values.get(key)), (item["item_id"], key)


def test_failed_export_leaves_no_file(fake, app, api, tmp_path):
    fake.add_items(app.app_id, 300)
    target = tmp_path / "items.jsonl"
    api.transport.max_retries = 0
    fake.add_fault("500", path=f"/item/app/{app.app_id}/filter", count=5)
    report = items.fetch_items(api, app.app_id, output=target)
    assert not report.ok and "500" in report.error
    assert list(tmp_path.iterdir()) == []


def test_export_to_a_stream(fake, app, api):
    fake.add_items(app.app_id, 30)
    out = io.StringIO()
    report = items.fetch_items(api, app.app_id, output=out)
    assert report.ok and report.written == 30 and report.requests == 1
    assert [json.loads(line)["item_id"] for line in out.getvalue().splitlines()] == podio_ids(
        fake, app
    )


# The service: the cache -------------------------------------------------------------------


def cache_state(app) -> dict[int, int]:
    return dict(PodioItem.objects.filter(app_id=app.app_id).values_list("item_id", "revision"))


@pytest.mark.django_db
def test_store_twice_is_idempotent(fake, app, api):
    fake.add_items(app.app_id, 600)
    first = items.fetch_items(api, app.app_id, store=True, concurrency=4, batch_size=250)
    assert first.ok and first.created == 600 and first.requests == 2
    before = list(
        PodioItem.objects.order_by("item_id").values_list("item_id", "revision", "fetched_at")
    )
    with CaptureQueriesContext(db_connection) as queries:
        second = items.fetch_items(api, app.app_id, store=True, concurrency=4, batch_size=250)
    assert second.ok
    assert (second.created, second.updated, second.deleted, second.unchanged) == (0, 0, 0, 600)
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if db_connection.ops.quote_name(PodioItem._meta.db_table) in q["sql"].split(" WHERE ")[0]
        and q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes == []
    after = list(
        PodioItem.objects.order_by("item_id").values_list("item_id", "revision", "fetched_at")
    )
    assert after == before and len(after) == 600
    row = PodioItem.objects.get(item_id=before[0][0])
    assert row.data["item_id"] == row.item_id and row.last_event_on.tzinfo is not None


@pytest.mark.django_db
def test_full_run_removes_items_deleted_in_podio(fake, app, api):
    fake.add_items(app.app_id, 400)
    items.fetch_items(api, app.app_id, store=True, batch_size=100)
    ids = podio_ids(fake, app)
    for item_id in (ids[0], ids[150], ids[151], ids[-1]):  # first, middle, last
        fake.delete_item(item_id)
    fake.update_item(ids[300], {"title": "changed"})
    report = items.fetch_items(api, app.app_id, store=True, batch_size=100)
    assert (report.deleted, report.updated, report.created) == (4, 1, 0)
    assert cache_state(app) == podio_revisions(fake, app)


@pytest.mark.django_db
def test_changes_while_a_run_pages_are_caught_by_the_next_since_run(fake, app, api):
    fake.add_items(app.app_id, 600)
    items.fetch_items(api, app.app_id, store=True)
    fake.advance(120)  # later edits get later timestamps than the items' own
    started = timezone.now()
    deleted: list[int] = []

    def meddle(done, total):
        if done != 500:
            return
        ids = podio_ids(fake, app)
        fake.update_item(ids[10], {"title": "edited, already stored"})
        fake.update_item(ids[550], {"title": "edited, not fetched yet"})
        for _ in range(3):
            fake.add_item(app.app_id, fields={"title": "created while paging"})
        deleted.extend([ids[20], ids[520], ids[590]])  # stored, next page, near the end
        for item_id in deleted:
            fake.delete_item(item_id)

    run = items.fetch_items(api, app.app_id, store=True, concurrency=4, on_progress=meddle)
    assert run.ok and deleted
    since = started - timedelta(minutes=5)
    follow_up = items.fetch_items(api, app.app_id, store=True, since=since)
    assert follow_up.ok and follow_up.mode == "since" and follow_up.deletion_pass
    assert cache_state(app) == podio_revisions(fake, app)
    assert not set(deleted) & set(cache_state(app))
    assert PodioItem.objects.get(item_id=podio_ids(fake, app)[10]).title == "edited, already stored"


@pytest.mark.django_db
def test_since_run_only_pulls_edited_items_and_filters_on_last_edit_on(fake, app, api):
    fake.add_items(app.app_id, 300)
    items.fetch_items(api, app.app_id, store=True)
    fake.advance(3600)
    mark = datetime.fromtimestamp(int(fake.now()), UTC)
    ids = podio_ids(fake, app)
    for item_id in ids[:5]:
        fake.update_item(item_id, {"title": "late edit"})
    fake.reset_log()
    report = items.fetch_items(api, app.app_id, store=True, since=mark)
    assert report.fetched == 5 and report.updated == 5 and not report.deletion_pass
    body = filter_calls(fake, app)[0].json
    assert body["filters"] == {"last_edit_on": {"from": items.podio_time(mark)}}
    assert cache_state(app) == podio_revisions(fake, app)


@pytest.mark.django_db
def test_since_last_starts_from_the_previous_run(fake, app, api):
    fake.add_items(app.app_id, 50)
    assert items.last_since(app.app_id) is None
    first = items.fetch_items(api, app.app_id, store=True, since="last")
    assert first.mode == "full" and first.created == 50
    state = PodioItemSync.objects.get(app_id=app.app_id)
    assert state.last_full_run_finished_at and not state.in_progress
    expected = state.last_run_started_at - items.SINCE_MARGIN
    assert items.last_since(app.app_id) == expected
    second = items.fetch_items(api, app.app_id, store=True, since="last")
    assert second.mode == "since" and second.since == items.podio_time(expected)
    with pytest.raises(ValueError):
        items.fetch_items(api, app.app_id, output=io.StringIO(), since="last")


def store_run_interrupted_at(api, app, done_at: int) -> None:
    """A ``--store`` run stopped by Ctrl-C once ``done_at`` items are committed."""

    def interrupt(done, total):
        if done >= done_at:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        items.fetch_items(api, app.app_id, store=True, batch_size=200, on_progress=interrupt)


@pytest.mark.django_db
def test_interrupted_store_run_resumes_where_it_stopped(fake, app, api):
    fake.add_items(app.app_id, 700)
    store_run_interrupted_at(api, app, 600)
    state = PodioItemSync.objects.get(app_id=app.app_id)
    ids = podio_ids(fake, app)
    assert state.in_progress and state.cursor_item_id == ids[599] and state.cursor_count == 600
    assert PodioItem.objects.count() == 600
    fake.reset_log()
    report = items.fetch_items(api, app.app_id, store=True, batch_size=200)
    assert report.ok and report.resumed_after == ids[599]
    assert report.fetched == 100 and report.created == 100
    assert [c.json["offset"] for c in filter_calls(fake, app)] == [599]
    assert cache_state(app) == podio_revisions(fake, app)
    assert not PodioItemSync.objects.get(app_id=app.app_id).in_progress


@pytest.mark.django_db
def test_podio_failure_keeps_committed_batches_and_the_next_run_resumes(fake, app, api):
    fake.add_items(app.app_id, 700)
    api.transport.max_retries = 0
    fake.add_fault("drop", path=f"/item/app/{app.app_id}/filter", count=1)  # the first page
    assert not items.fetch_items(api, app.app_id, store=True).ok
    calls = {"n": 0}

    def fail_third_page(done, total):
        calls["n"] += 1
        if calls["n"] == 2:
            fake.add_fault("502", path=f"/item/app/{app.app_id}/filter", count=1)

    report = items.fetch_items(
        api, app.app_id, store=True, batch_size=250, on_progress=fail_third_page
    )
    assert not report.ok and "502" in report.error
    stored = PodioItem.objects.count()
    assert 0 < stored < 700
    report = items.fetch_items(api, app.app_id, store=True)
    assert report.ok and report.resumed_after is not None and report.created == 700 - stored
    assert cache_state(app) == podio_revisions(fake, app)


@pytest.mark.django_db
@pytest.mark.parametrize("refusal", ["420", "502"])
def test_a_refused_page_keeps_the_items_fetched_before_it(fake, app, api, refusal):
    """A resumed run's pages overlap by one item, so they never fill a batch of 500: when
    the next page is refused (a 420 once Podio's budget is spent, a 502), the items already
    fetched are stored, not dropped. A run that gets one page per rate-limit window moves
    on by a page each time instead of fetching the same page forever."""
    fake.add_items(app.app_id, 1500)
    store_run_interrupted_at(api, app, 600)
    assert PodioItem.objects.count() == 600
    api.transport.max_retries = 0
    filter_path = f"/item/app/{app.app_id}/filter"
    seen = []

    def refuse_the_second_page(request, phase):
        if phase == "received" and request.path.rstrip("/") == filter_path:
            seen.append(request)
            if len(seen) == 2:  # Podio's wait outlasts what the client may sleep through
                fake.add_fault(refusal, path=filter_path, count=1, wait_seconds=3600)

    fake.observers.append(refuse_the_second_page)
    report = items.fetch_items(api, app.app_id, store=True)
    assert not report.ok and refusal in report.error, report.error
    assert report.fetched == 499  # the resumed page: 500 with the one item already stored
    assert PodioItem.objects.count() == 1099  # kept, and the checkpoint moved past them
    state = PodioItemSync.objects.get(app_id=app.app_id)
    assert state.cursor_count == 1099 and state.cursor_item_id == podio_ids(fake, app)[1098]
    fake.observers.remove(refuse_the_second_page)
    fake.reset_log()
    report = items.fetch_items(api, app.app_id, store=True)
    assert report.ok and report.created == 401, report.error
    assert [c.json["offset"] for c in filter_calls(fake, app)] == [1098]
    assert cache_state(app) == podio_revisions(fake, app)


@pytest.mark.django_db
def test_app_mode_through_get_client(fake, app, sleeper):
    fake.add_items(app.app_id, 40)
    tokens.store_app_connection(app.app_id, app.app_token)
    with get_client(app_id=app.app_id, sleep=sleeper) as api:
        report = items.fetch_items(api, app.app_id, store=True)
    assert report.ok and report.created == 40


@pytest.mark.django_db
def test_page_of_items_reads_the_cache(fake, app, api):
    fake.add_items(app.app_id, 60)
    assert not items.has_cached_items(app.app_id)
    items.fetch_items(api, app.app_id, store=True)
    assert items.has_cached_items(app.app_id)
    page = items.page_of_items(app.app_id, 2, per_page=25)
    assert page.paginator.count == 60 and page.number == 2 and len(page.object_list) == 25
    assert [row.item_id for row in page] == podio_ids(fake, app)[::-1][25:50]
    assert items.page_of_items(app.app_id, "junk").number == 1
    assert items.page_of_items(app.app_id, 99).number == 3


@pytest.mark.django_db
def test_admin_shows_cached_items_read_only(fake, app, api, admin_client):
    fake.add_items(app.app_id, 5)
    items.fetch_items(api, app.app_id, store=True)
    row = PodioItem.objects.order_by("item_id").first()
    listing = admin_client.get("/admin/django_podio/podioitem/")
    assert listing.status_code == 200 and row.title in listing.content.decode()
    detail = admin_client.get(f"/admin/django_podio/podioitem/{row.pk}/change/")
    assert detail.status_code == 200 and "Save" not in detail.content.decode()
    assert admin_client.get("/admin/django_podio/podioitem/add/").status_code == 403
