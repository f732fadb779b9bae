"""podio_fetch_items as operators and cron run it: --app and --user, stdout stays data, exit 1."""

from __future__ import annotations

import csv
import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from django_podio import tokens
from django_podio.models import PodioConnection, PodioItem

from .conftest import login_with_podio

pytestmark = pytest.mark.django_db


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def run(*args: str, stderr: StringIO | None = None) -> tuple[str, str]:
    out, err = StringIO(), stderr or StringIO()
    call_command("podio_fetch_items", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def app(fake, podio_settings):
    fake.rate_limit_general = fake.rate_limit_limited = 10**6
    podio_settings(PAGE_SIZE=20)
    app = fake.add_app(name="Projects")
    fake.add_items(app.app_id, 45)
    return app


@pytest.fixture
def app_connection(app) -> PodioConnection:
    return tokens.store_app_connection(app.app_id, app.app_token)


def test_app_mode_writes_json_lines_to_stdout_and_the_summary_to_stderr(fake, app_connection):
    app_id = app_connection.app_id
    out, err = run(str(app_id), "--app")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [item["item_id"] for item in lines] == sorted(fake.apps[app_id].items)
    assert f"app {app_id}: 45 items fetched (full)" in err and "3 requests" in err
    assert PodioItem.objects.count() == 0
    assert all(secret not in out + err for secret in fake.issued_secrets())


def test_user_mode_writes_csv_to_a_file(client, fake, app, tmp_path):
    login_with_podio(client)
    user = PodioConnection.objects.get().user
    target = tmp_path / "items.csv"
    out, err = run(
        str(app.app_id), "--user", user.get_username(), "--format", "csv", "--output", str(target)
    )
    assert f"45 written to {target}" in out and err == ""
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["item_id"]) for r in rows] == sorted(fake.apps[app.app_id].items)
    assert {"title", "amount", "budget", "status", "due-date"} <= set(rows[0])
    assert [p.name for p in tmp_path.iterdir()] == ["items.csv"]


def test_store_twice_changes_nothing_the_second_time(fake, app_connection):
    app_id = str(app_connection.app_id)
    out, _ = run(app_id, "--app", "--store", "--concurrency", "2")
    assert "cache: 45 created, 0 updated, 0 unchanged, 0 deleted" in out
    out, _ = run(app_id, "--app", "--store")
    assert "cache: 0 created, 0 updated, 45 unchanged, 0 deleted" in out
    assert PodioItem.objects.count() == 45


def test_since_with_store(fake, app, app_connection):
    run(str(app.app_id), "--app", "--store")
    fake.advance(3600)
    item_id = min(fake.apps[app.app_id].items)
    fake.update_item(item_id, {"title": "renamed"})
    out, _ = run(str(app.app_id), "--app", "--store", "--since", "last")
    assert "1 item fetched (since" in out and "1 updated" in out
    assert PodioItem.objects.get(item_id=item_id).title == "renamed"


def test_progress_on_a_terminal(fake, app_connection):
    err = Terminal()
    out, _ = run(str(app_connection.app_id), "--app", "--store", stderr=err)
    text = err.getvalue()
    assert "\r45/45 items" in text and "/s" in text
    assert "items fetched" in out


def test_podio_failure_exits_1_with_a_summary(fake, app, app_connection, podio_settings):
    podio_settings(MAX_RETRIES=0)
    fake.add_fault("503", path=f"/item/app/{app.app_id}/filter", count=3)
    err = StringIO()
    with pytest.raises(CommandError) as info:
        call_command("podio_fetch_items", str(app.app_id), "--app", stdout=StringIO(), stderr=err)
    assert info.value.returncode == 1 and "503" in str(info.value)
    assert "FAILED" in err.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "soon"], "Cannot read"),
        (["--since", "last"], "needs --store"),
        (["--concurrency", "9"], "from 1 to 8"),
    ],
)
def test_bad_options(app_connection, args, message):
    with pytest.raises(CommandError, match=message):
        run(str(app_connection.app_id), "--app", *args)


def test_who_is_required_and_exclusive(app):
    with pytest.raises(CommandError):
        run(str(app.app_id))
    with pytest.raises(CommandError):
        run(str(app.app_id), "--app", "--user", "someone")


def test_missing_connection_or_user(app):
    with pytest.raises(CommandError, match="podio_app_auth"):
        run(str(app.app_id), "--app")
    with pytest.raises(CommandError, match="No user"):
        run(str(app.app_id), "--user", "nobody")


def test_quiet_prints_items_only(fake, app_connection):
    err = Terminal()
    out, _ = run(str(app_connection.app_id), "--app", "-v0", stderr=err)
    assert len(out.splitlines()) == 45
    assert err.getvalue() == ""  # no summary, no progress even on a terminal


def test_quiet_store_prints_nothing(fake, app_connection):
    assert run(str(app_connection.app_id), "--app", "--store", "-v0") == ("", "")
    assert PodioItem.objects.count() == 45


def test_no_progress_when_stderr_is_not_a_terminal(fake, app_connection):
    out, err = run(str(app_connection.app_id), "--app", "--store")
    assert err == "" and "45 items fetched" in out


def test_json_report_goes_to_stderr_when_stdout_carries_items(fake, app_connection):
    out, err = run(str(app_connection.app_id), "--app", "--json")
    assert len(out.splitlines()) == 45
    report = json.loads(err)
    assert report["fetched"] == 45 and report["ok"] is True and report["requests"] == 3


def test_json_report_on_stdout_with_store(fake, app_connection):
    out, err = run(str(app_connection.app_id), "--app", "--store", "--json")
    report = json.loads(out)
    assert err == "" and report["created"] == 45 and report["mode"] == "full"


def test_json_report_on_failure_then_command_error(fake, app, app_connection, podio_settings):
    podio_settings(MAX_RETRIES=0)
    fake.add_fault("503", path=f"/item/app/{app.app_id}/filter", count=3)
    out = StringIO()
    with pytest.raises(CommandError, match="503"):
        call_command("podio_fetch_items", str(app.app_id), "--app", "--store", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["ok"] is False and "503" in report["error"]


def test_summary_wording(fake, app, app_connection):
    run(str(app.app_id), "--app", "--store")
    fake.advance(3600)
    fake.update_item(min(fake.apps[app.app_id].items), {"title": "renamed"})
    out, _ = run(str(app.app_id), "--app", "--store", "--since", "last")
    assert re.search(r"app \d+: 1 item fetched \(since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)", out)
    assert "since since" not in out and ", 1 request;" in out
