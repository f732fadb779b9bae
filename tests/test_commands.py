"""podio_refresh and podio_app_auth, run as cron and operators run them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_podio.models import PodioConnection

from .conftest import login_with_podio

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def due(client, fake) -> PodioConnection:
    login_with_podio(client)
    PodioConnection.objects.update(expires_at=timezone.now() + timedelta(seconds=60))
    return PodioConnection.objects.get()


def test_refresh_summary_and_exit_zero(due, fake):
    code, out, err = run("podio_refresh")
    assert code == 0, err
    assert "1 refreshed, 0 skipped, 0 failed" in out
    assert PodioConnection.objects.get().last_refreshed_at is not None
    assert all(s not in out + err for s in fake.issued_secrets())


def test_refresh_nothing_due(due):
    code, out, _ = run("podio_refresh", "--within", "10")
    assert code == 0 and "0 refreshed" in out


def test_refresh_dry_run_changes_nothing(due, fake):
    fake.reset_log()
    code, out, _ = run("podio_refresh", "--dry-run")
    assert code == 0
    assert f"would refresh connection {due.pk}" in out and "1 connection(s) due" in out
    assert fake.requests == []
    assert PodioConnection.objects.get().access_token == due.access_token


def test_refresh_json_report(due):
    code, out, _ = run("podio_refresh", "--json", "--concurrency", "2")
    report = json.loads(out)
    assert code == 0 and report["refreshed"] == 1 and report["failures"] == []


def test_refresh_invalid_grant_exits_one_and_asks_for_reauthorization(due, fake):
    fake.revoke_refresh_tokens()
    code, out, err = run("podio_refresh")
    assert code == 1
    assert "1 failed (1 need reauthorization)" in out
    assert f"connection {due.pk}: reauth_required" in err
    assert PodioConnection.objects.get().status == "reauth_required"
    fake.reset_log()
    code, out, _ = run("podio_refresh")
    assert code == 0 and "0 refreshed" in out and fake.requests == []


def test_refresh_network_failure_exits_one_and_keeps_tokens(due, fake):
    fake.add_fault("503", path="/oauth/token")
    code, out, _ = run("podio_refresh", "--json")
    assert code == 1
    assert json.loads(out)["failed"] == 1
    assert PodioConnection.objects.get().refresh_token == due.refresh_token


def test_refresh_rejects_bad_options(db):
    with pytest.raises(CommandError):
        call_command("podio_refresh", "--concurrency", "0")


def test_app_auth_from_environment(fake, monkeypatch):
    app = fake.add_app(name="Projects")
    monkeypatch.setenv("PODIO_APP_TOKEN", app.app_token)
    code, out, err = run("podio_app_auth", str(app.app_id))
    assert code == 0, err
    assert f"Stored app authentication for Podio app {app.app_id}" in out
    assert app.app_token not in out + err
    connection = PodioConnection.objects.get(app_id=app.app_id)
    assert connection.kind == "app" and connection.app_token == app.app_token


def test_app_auth_wrong_token_is_refused_and_not_stored(fake, monkeypatch):
    app = fake.add_app(name="Projects")
    monkeypatch.setenv("PODIO_APP_TOKEN", "not-the-token")
    with pytest.raises(CommandError, match="refused"):
        call_command("podio_app_auth", str(app.app_id))
    assert PodioConnection.objects.count() == 0


def test_app_auth_never_takes_the_token_from_argv(fake):
    app = fake.add_app(name="Projects")
    with pytest.raises(CommandError):
        call_command("podio_app_auth", str(app.app_id), app.app_token)


def test_app_auth_without_token_or_terminal_fails_clearly(fake, monkeypatch):
    app = fake.add_app(name="Projects")
    monkeypatch.delenv("PODIO_APP_TOKEN", raising=False)
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PODIO_FAKE_URL": fake.url,
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-m", "django", "podio_app_auth", str(app.app_id)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "PODIO_APP_TOKEN" in result.stderr
