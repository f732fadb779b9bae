"""Odd item data (shapes Podio does not send) is set aside with a message; the run goes on."""

from __future__ import annotations

import csv
import io
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from django_podio import items, tokens
from django_podio.management.commands.podio_fetch_items import summary
from django_podio.models import PodioItem
from django_podio.testing import REMOVE

from .test_items import client_for

pytestmark = pytest.mark.django_db

# (name, top-level overrides, field overrides, odd for the cache, odd for CSV)
ODD = [
    ("revision", {"revision": "abc"}, {}, True, False),
    ("last_event_on", {"last_event_on": "yesterday"}, {}, True, False),
    ("item_id", {"item_id": REMOVE}, {}, True, False),
    ("item_id_text", {"item_id": "x1"}, {}, True, False),
    ("progress", {}, {"progress": [{"value": "half"}]}, False, True),
    ("date", {}, {"due-date": [{"start": "soon"}]}, False, True),
    ("contact", {}, {"owner": [{"value": 42}]}, False, True),
    ("not_a_list", {}, {"status": 7}, False, True),
]


@pytest.fixture
def app(fake):
    fake.rate_limit_general = fake.rate_limit_limited = 10**6
    app = fake.add_app(name="Projects")
    fake.add_items(app.app_id, 30)
    return app


@pytest.fixture
def api(fake, app, sleeper):
    with client_for(fake, app, sleeper) as c:
        yield c


def spoil(fake, app, top, fields) -> int:
    odd_id = sorted(fake.apps[app.app_id].items)[12]
    fake.serve_odd_item(odd_id, fields=fields, **top)
    return odd_id


@pytest.mark.parametrize(
    ("name", "top", "fields", "cache_odd", "csv_odd"), ODD, ids=[o[0] for o in ODD]
)
def test_store_sets_an_odd_item_aside_and_every_later_sync_still_runs(
    fake, app, api, name, top, fields, cache_odd, csv_odd
):
    odd_id = spoil(fake, app, top, fields)
    for _ in range(2):  # the odd item must not poison the next run either
        report = items.fetch_items(api, app.app_id, store=True, batch_size=7)
        assert report.ok, report.error
        assert report.odd == (1 if cache_odd else 0)
        assert PodioItem.objects.count() == (29 if cache_odd else 30)
    if cache_odd:
        line = summary(report)
        assert "set aside" in line and report.odd_items[0] in line
        message = report.odd_items[0]
        assert str(odd_id) in message or ("item_id" in name and "item_id" in message)
    # Podio fixing the item makes the next run store it.
    fake._odd_items.clear()
    assert items.fetch_items(api, app.app_id, store=True).odd == 0
    assert PodioItem.objects.count() == 30


@pytest.mark.parametrize(
    ("name", "top", "fields", "cache_odd", "csv_odd"), ODD, ids=[o[0] for o in ODD]
)
def test_export_sets_an_odd_item_aside(
    fake, app, api, tmp_path, name, top, fields, cache_odd, csv_odd
):
    spoil(fake, app, top, fields)
    out = tmp_path / "items.csv"
    report = items.fetch_items(api, app.app_id, output=out, fmt="csv")
    assert report.ok and report.fetched == 30
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == report.written == (29 if csv_odd else 30)
    assert report.odd == (1 if csv_odd else 0)
    if csv_odd:
        field = next(iter(fields))
        assert f"field {field!r}" in report.odd_items[0]
    lines = io.StringIO()
    assert items.fetch_items(api, app.app_id, output=lines).written == 30  # JSON keeps any shape


def test_odd_for_both_export_and_cache_counts_once(fake, app, api, tmp_path):
    spoil(fake, app, {"revision": "abc"}, {"progress": [{"value": "half"}]})
    report = items.fetch_items(api, app.app_id, output=tmp_path / "x.csv", fmt="csv", store=True)
    assert report.ok and report.odd == 1 and report.written == 29


def test_command_reports_odd_items_on_stderr(fake, app):
    tokens.store_app_connection(app.app_id, app.app_token)
    spoil(fake, app, {"revision": "abc"}, {})
    out, err = StringIO(), StringIO()
    call_command("podio_fetch_items", str(app.app_id), "--app", "--store", stdout=out, stderr=err)
    assert (
        "Set aside: item" in err.getvalue() and "revision 'abc' is not a number" in err.getvalue()
    )
    assert "1 odd item set aside" in out.getvalue()


@pytest.mark.parametrize("where", ["missing", "directory"])
def test_output_that_cannot_be_a_file_fails_before_any_request(fake, app, tmp_path, where):
    tokens.store_app_connection(app.app_id, app.app_token)
    fake.expire_access_tokens()  # a request would show up as a refresh, too
    fake.reset_log()
    target = tmp_path / "nope" / "items.jsonl" if where == "missing" else tmp_path
    with pytest.raises(CommandError, match="--output"):
        call_command(
            "podio_fetch_items",
            str(app.app_id),
            "--app",
            "--output",
            str(target),
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert fake.requests == []
    with pytest.raises(ValueError, match="director"):
        items.fetch_items(None, app.app_id, output=target)  # type: ignore[arg-type]


def test_json_lines_still_hold_the_odd_item_as_podio_sent_it(fake, app, api):
    odd_id = spoil(fake, app, {"revision": "abc"}, {})
    out = io.StringIO()
    items.fetch_items(api, app.app_id, output=out)
    served = [json.loads(line) for line in out.getvalue().splitlines()]
    assert next(i for i in served if i["item_id"] == odd_id)["revision"] == "abc"
