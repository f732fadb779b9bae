"""podio_refresh and podio_app_auth, run as cron and operators run them."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command, get_commands, load_command_class
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
    except CommandError as error:
        code = error.returncode
        err.write(f"CommandError: {error}\n")
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
    assert f"would refresh connection {due.pk}" in out and "1 connection due" in out
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
    assert "1 failed (1 needs reauthorization)" in out
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
    assert json.loads(out.getvalue()) == {"done": 1, "ok": False, "error": "it failed"}


def test_base_configuration_error_is_a_command_error_not_a_traceback():
    with pytest.raises(CommandError, match="No Podio app is configured"):
        sample("--outcome", "misconfigured", "--skip-checks")


def test_base_json_with_subcommands_before_or_after():
    assert json.loads(sample("list", "--json", command=Grouped)[0]) == {
        "action": "list",
        "ok": True,
    }
    assert json.loads(sample("--json", "sync", command=Grouped)[0]) == {
        "action": "sync",
        "ok": True,
    }
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


# The family: every podio_* command ----------------------------------------------------------

PODIO_COMMANDS = sorted(
    name for name, app in get_commands().items() if app == "django_podio" and name != "podio"
)


def all_actions(parser):
    for action in parser._actions:
        yield action
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from all_actions(sub)


def test_the_family_is_found():
    assert {"podio_refresh", "podio_fetch_items", "podio_app_auth", "podio_reencrypt"} <= set(
        PODIO_COMMANDS
    )


@pytest.mark.parametrize("name", PODIO_COMMANDS)
def test_every_command_has_json_and_help_for_every_argument(name):
    command = load_command_class("django_podio", name)
    assert isinstance(command, PodioCommand)
    parser = command.create_parser("manage.py", name)
    actions = list(all_actions(parser))
    assert any("--json" in a.option_strings for a in actions)
    undocumented = [a.dest for a in actions if not a.help or a.help == argparse.SUPPRESS]
    assert undocumented == []


def test_refresh_failure_is_a_command_error_not_system_exit(due, fake):
    fake.revoke_refresh_tokens()
    out = StringIO()
    with pytest.raises(CommandError, match=r"1 refresh failed \(connection \d+\)") as info:
        call_command("podio_refresh", stdout=out, stderr=StringIO())
    assert info.value.returncode == 1
    assert "1 failed" in out.getvalue()


def test_refresh_quiet_prints_nothing(due):
    assert run("podio_refresh", "-v0") == (0, "", "")
    assert PodioConnection.objects.get().last_refreshed_at is not None


def test_refresh_quiet_failure_still_says_why_on_stderr_only(due, fake):
    fake.revoke_refresh_tokens()
    code, out, err = run("podio_refresh", "-v0")
    assert code == 1 and out == ""
    assert err.startswith("CommandError: 1 refresh failed")


def test_refresh_verbose_lists_each_connection(due):
    code, out, _ = run("podio_refresh", "-v2")
    assert code == 0 and f"connection {due.pk}: refreshed" in out


def test_refresh_dry_run_json(due):
    code, out, _ = run("podio_refresh", "--dry-run", "--json")
    report = json.loads(out)
    assert code == 0 and report["dry_run"] is True
    assert [row["connection"] for row in report["due"]] == [due.pk]


def test_refresh_without_an_app_and_skipped_checks_is_a_command_error(due, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {}
    with pytest.raises(CommandError, match="No Podio app is configured"):
        call_command("podio_refresh", "--skip-checks", stdout=StringIO(), stderr=StringIO())


def test_app_auth_json(fake, monkeypatch):
    app = fake.add_app(name="Projects")
    monkeypatch.setenv("PODIO_APP_TOKEN", app.app_token)
    code, out, err = run("podio_app_auth", str(app.app_id), "--json")
    report = json.loads(out)
    connection = PodioConnection.objects.get(app_id=app.app_id)
    assert code == 0 and err == ""
    assert report == {
        "app_id": app.app_id,
        "connection": connection.pk,
        "expires_at": connection.expires_at.isoformat(),
        "ok": True,
    }
    assert app.app_token not in out


def test_app_auth_quiet(fake, monkeypatch):
    app = fake.add_app(name="Projects")
    monkeypatch.setenv("PODIO_APP_TOKEN", app.app_token)
    assert run("podio_app_auth", str(app.app_id), "-v0") == (0, "", "")
    assert PodioConnection.objects.filter(app_id=app.app_id).exists()


def test_reencrypt_summary_json_and_quiet(due):
    code, out, _ = run("podio_reencrypt", "--dry-run")
    assert code == 0 and "2 values already current, 0 would be re-encrypted" in out
    code, out, _ = run("podio_reencrypt", "--json")
    per_model = {"current": 2, "reencrypted": 0, "undecryptable": 0, "stale": 0}
    empty = {"current": 0, "reencrypted": 0, "undecryptable": 0, "stale": 0}
    assert json.loads(out) == {
        "current": 2,
        "reencrypted": 0,
        "undecryptable": 0,
        "stale": 0,
        "retried": 0,
        "conflicts": 0,
        "dry_run": False,
        "models": {
            "django_podio.PodioConnection": per_model,
            "django_podio.PodioHookEvent": empty,  # the verification code of hook.verify
            "hostapp.Secret": empty,  # the suite's host app
        },
        "ok": True,
    }
    assert run("podio_reencrypt", "-v0") == (0, "", "")


def test_reencrypt_undecryptable_is_a_command_error_after_the_json_report(due, settings):
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    code, out, err = run("podio_reencrypt", "--json")
    assert code == 1 and json.loads(out)["undecryptable"] == 2
    assert "Nothing was written" in err


# From the shell: exit status, stderr, pipes ---------------------------------------------------


def host_project(tmp_path: Path, fake, *extra_settings: str) -> dict[str, str]:
    """Environment for ``python -m django`` in a host project with a file SQLite database.

    The settings are the test settings with their own database (set up as the README says),
    plus ``extra_settings`` lines.
    """
    lines = [
        "from tests.settings import *  # noqa",
        "DATABASES = {'default': {",
        "    'ENGINE': 'django.db.backends.sqlite3',",
        f"    'NAME': {str(tmp_path / 'db.sqlite3')!r},",
        "    'OPTIONS': {'init_command': 'PRAGMA journal_mode=WAL;', 'timeout': 20},",
        "}}",
        *extra_settings,
    ]
    (tmp_path / "host_settings.py").write_text("\n".join(lines) + "\n")
    return {
        "DJANGO_SETTINGS_MODULE": "host_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
        "PODIO_FAKE_URL": fake.url,
        "PATH": "/usr/bin:/bin",
    }


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_shell_failure_exits_one_with_one_line_and_no_traceback(tmp_path, fake):
    env = host_project(tmp_path, fake, "SOCIALACCOUNT_PROVIDERS = {}")
    assert manage(env, "migrate", "-v0").returncode == 0
    result = manage(env, "podio_refresh", "--skip-checks")
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("CommandError: No Podio app is configured")
    assert "Traceback" not in result.stderr


def test_piped_into_head_ends_quietly(tmp_path, fake):
    app = fake.add_app(name="Projects")
    fake.add_items(app.app_id, 600)
    env = host_project(tmp_path, fake, "PODIO = {**PODIO, 'PAGE_SIZE': 100}")
    assert manage(env, "migrate", "-v0").returncode == 0
    auth = manage({**env, "PODIO_APP_TOKEN": app.app_token}, "podio_app_auth", str(app.app_id))
    assert auth.returncode == 0, auth.stderr
    fetch = subprocess.Popen(
        [sys.executable, "-m", "django", "podio_fetch_items", str(app.app_id), "--app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    head = subprocess.run(["head", "-1"], stdin=fetch.stdout, capture_output=True, timeout=120)
    fetch.stdout.close()
    stderr = fetch.stderr.read().decode()
    fetch.wait(timeout=120)
    first = json.loads(head.stdout)
    assert first["item_id"] == min(fake.apps[app.app_id].items)
    # Exit status 1 proves the reader really went away before the last item (a complete run
    # exits 0); and yet nothing but silence on stderr.
    assert fetch.returncode == 1
    assert stderr == ""
