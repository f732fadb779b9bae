"""podio_refresh and podio_app_auth, run as cron and operators run them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_podio.management.base import PodioCommand, add_json_argument, plural
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


# The shared base (django_podio.management.base) ---------------------------------------------


class Sample(PodioCommand):
    """A command built on the base, as every podio_* command is."""

    help = "A sample command."

    def add_arguments(self, parser):
        parser.add_argument("--outcome", default="ok", help="ok, fail or misconfigured.")

    def handle(self, *args, **options):
        if options["outcome"] == "misconfigured":
            raise ImproperlyConfigured("No Podio app is configured.")
        self.detail("one unit done")
        ok = options["outcome"] == "ok"
        self.finish({"done": 1, "ok": ok}, "1 done", ok=ok, error="it failed")


class Grouped(PodioCommand):
    """A command with subcommands (as podio_hooks has)."""

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        for name in ("list", "sync"):
            add_json_argument(sub.add_parser(name, help=f"{name} things."), subcommand=True)

    def handle(self, *args, **options):
        self.finish({"action": options["action"]}, f"{options['action']} done")


def sample(*args: str, command: type[PodioCommand] = Sample) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(command(), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_base_summary_json_and_verbosity():
    assert sample() == ("1 done\n", "")
    assert sample("-v0") == ("", "")
    assert sample("-v2") == ("one unit done\n1 done\n", "")
    assert json.loads(sample("--json")[0]) == {"done": 1, "ok": True}
    assert json.loads(sample("--json", "-v0")[0]) == {"done": 1, "ok": True}


def test_base_failure_is_a_command_error_after_the_json_report():
    out = StringIO()
    with pytest.raises(CommandError, match="it failed") as info:
        call_command(Sample(), "--outcome", "fail", "--json", stdout=out, stderr=StringIO())
    assert info.value.returncode == 1
    assert json.loads(out.getvalue()) == {"done": 1, "ok": False}


def test_base_configuration_error_is_a_command_error_not_a_traceback():
    with pytest.raises(CommandError, match="No Podio app is configured"):
        sample("--outcome", "misconfigured", "--skip-checks")


def test_base_json_with_subcommands_before_or_after():
    assert json.loads(sample("list", "--json", command=Grouped)[0]) == {"action": "list"}
    assert json.loads(sample("--json", "sync", command=Grouped)[0]) == {"action": "sync"}
    assert sample("sync", command=Grouped)[0] == "sync done\n"


def test_plural():
    assert [plural(n, "request") for n in (0, 1, 2, 1500)] == [
        "0 requests",
        "1 request",
        "2 requests",
        "1,500 requests",
    ]
    assert plural(1, "entry", "entries") == "1 entry"
    assert plural(2, "entry", "entries") == "2 entries"
