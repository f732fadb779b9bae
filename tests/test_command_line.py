"""The ``podio_*`` commands from the shell: the documented command lines run as pasted, the
common options work after a sub-command, and ``--json`` always prints one JSON object.

Issue 18, points 1 and 4: ``podio_hooks process -v 0`` (the documented cron line) failed with
"unrecognized arguments"; a command that failed before doing any work printed nothing on
stdout with ``--json``; ``podio_refresh --enqueue`` without a Tasks API said "0 refreshes
enqueued" and exited 0 until something was due.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from django_podio import tokens
from django_podio.api import oauth
from django_podio.conf import AppCredentials
from django_podio.models import PodioConnection

from .commands import argv_of, documented_command_lines, shell

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[1]
DOCUMENTED = documented_command_lines()


@pytest.fixture
def podio_app(fake, podio_settings, monkeypatch):
    """An app in the fake with its app connection stored, its token in the environment (for
    ``podio_app_auth``), and a webhook base URL (for ``podio_hooks sync``)."""
    podio_settings(WEBHOOK_BASE_URL="http://127.0.0.1:9")
    app = fake.add_app(name="Projects")
    fake.add_items(app.app_id, 3)
    tokens.store_app_connection(app.app_id, app.app_token)
    monkeypatch.setenv("PODIO_APP_TOKEN", app.app_token)
    # USERNAME in a documented line: a user who logged in with Podio (and can read the app).
    fake.add_user(mail="reader@example.com", name="Reader", password="pw")
    token = oauth.password(
        "reader@example.com", "pw", credentials=AppCredentials(fake.client_id, fake.client_secret)
    )
    PodioConnection.objects.create(
        user=get_user_model().objects.create_user("reader"),
        access_token=token.access_token,
        refresh_token=token.refresh_token,
        expires_at=timezone.now() + timedelta(hours=8),
        ref_type="user",
        ref_id=token.ref_id,
    )
    return app


def test_the_docs_give_the_cron_lines():
    lines = {command for _, command in DOCUMENTED}
    assert "podio_hooks process -v 0" in lines
    assert "podio_refresh --within 900 -v 0" in lines
    assert len(DOCUMENTED) >= 15


@pytest.mark.parametrize(("where", "command_line"), DOCUMENTED, ids=[w for w, _ in DOCUMENTED])
def test_every_documented_command_line_runs_as_pasted(podio_app, where, command_line):
    run = shell(*argv_of(command_line, APP_ID=str(podio_app.app_id), USERNAME="reader"))
    assert run.code == 0, f"{where}: {command_line}\n{run.out}\n{run.err}"
    assert "Traceback" not in run.err


@pytest.mark.parametrize(
    "argv",
    [
        ["podio_hooks", "process", "-v", "0"],
        ["podio_hooks", "process", "--verbosity=0", "--no-color", "--skip-checks"],
        ["podio_hooks", "-v", "0", "process"],
        ["podio_hooks", "list", "--json", "-v", "0"],
    ],
)
def test_common_options_after_the_subcommand(db, argv):
    run = shell(*argv)
    assert run.code == 0, run.err
    if "--json" in argv:
        assert run.json() == {"hooks": [], "ok": True}
    else:
        assert (run.out, run.err) == ("", "")


def test_verbosity_after_the_subcommand_is_the_one_used(db):
    assert shell("podio_hooks", "process").out.startswith("0 events")
    assert shell("podio_hooks", "process", "-v", "0").out == ""
    assert shell("podio_hooks", "-v", "0", "process", "-v", "1").out.startswith("0 events")


def test_traceback_after_the_subcommand(db):
    with pytest.raises(Exception, match="No hook 5"):  # re-raised, as --traceback asks
        shell("podio_hooks", "delete", "5", "--traceback")


@pytest.mark.parametrize("action", ["sync", "list", "delete", "verify", "process", "replay"])
def test_the_subcommand_help_shows_the_common_options(action):
    run = shell("podio_hooks", action, "--help")
    assert run.code == 0
    for option in ("--json", "--verbosity", "--settings", "--traceback", "--skip-checks"):
        assert option in run.out, (option, run.out)
    # Django's order: the command's own options first, the common ones last.
    assert run.out.index("--json") < run.out.index("--verbosity")


def test_settings_after_the_subcommand_from_a_real_shell(fake):
    from .concurrency.test_races import child_env

    env = {**os.environ, **child_env(fake)}
    del env["DJANGO_SETTINGS_MODULE"]
    result = subprocess.run(
        [sys.executable, "-m", "django", "podio_hooks", "list", "--settings", "tests.settings"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "no hooks\n"


# --json: one JSON object, also for failures before any work ---------------------------------


@pytest.mark.parametrize(
    ("argv", "code", "error"),
    [
        (["podio_app_auth", "99999", "--json"], 1, "Set PODIO_APP_TOKEN"),
        (["podio_hooks", "delete", "12345", "--json"], 1, "No hook 12345"),
        (["podio_hooks", "verify", "12345", "--json"], 1, "No hook 12345"),
        (["podio_hooks", "--json", "sync", "1", "--user", "nobody"], 1, "No user 'nobody'"),
        (["podio_fetch_items", "1", "--user", "nobody", "--output", "x.jsonl", "--json"], 1, "No"),
        (["podio_fetch_items", "1", "--app", "--store", "--json"], 1, "No Podio connection"),
        (["podio_fetch_items", "1", "--app", "--since", "last", "--json", "-o"], 2, "argument"),
        (["podio_fetch_items", "1", "--app", "--since", "soon", "--json"], 2, "Cannot read"),
        (["podio_hooks", "replay", "--since", "yesterday", "--json"], 2, "Cannot read"),
        (["podio_hooks", "delete", "abc", "--json"], 2, "not a Podio id"),
        (["podio_refresh", "--within", "-5", "--json"], 2, "not a window"),
        (["podio_refresh", "--dry-run", "--enqueue", "--json"], 1, "exclude each other"),
        (["podio_refresh", "--bogus", "--json"], 2, "unrecognized arguments"),
        (["podio_hooks", "--json"], 2, "required"),
    ],
)
def test_a_failure_before_any_work_is_one_json_object(db, monkeypatch, argv, code, error):
    monkeypatch.delenv("PODIO_APP_TOKEN", raising=False)
    run = shell(*argv)
    assert run.code == code, run.err
    document = run.json()
    assert document["ok"] is False and error in document["error"], document
    assert set(document) == {"ok", "error"}
    assert "Traceback" not in run.err


def test_items_on_stdout_put_the_one_json_object_on_stderr_alone(db):
    """With the items on stdout, the report (and so a failure's JSON object) is on stderr,
    and Django's "CommandError:" line is left out there: stderr parses as one object too."""
    run = shell("podio_fetch_items", "1", "--user", "nobody", "--json")
    assert run.code == 1 and run.out == ""
    assert run.json("err") == {"ok": False, "error": "No user 'nobody'"}


def test_a_failed_system_check_is_one_json_object(db, settings):
    settings.PODIO = {**settings.PODIO, "NO_SUCH_KEY": 1}
    run = shell("podio_hooks", "list", "--json")
    assert run.code == 1
    document = run.json()
    assert document["ok"] is False and "django_podio.E001" in document["error"]


def test_every_json_report_has_ok(db, fake):
    for argv in (
        ["podio_hooks", "list", "--json"],
        ["podio_hooks", "process", "--json"],
        ["podio_refresh", "--json"],
        ["podio_refresh", "--dry-run", "--json"],
        ["podio_reencrypt", "--dry-run", "--json"],
    ):
        run = shell(*argv)
        assert run.code == 0, run.err
        assert run.json()["ok"] is True, argv


def test_a_failure_after_work_keeps_its_report_and_adds_the_error(db, fake, client):
    from .conftest import login_with_podio

    login_with_podio(client)
    PodioConnection.objects.update(expires_at=None)
    fake.revoke_refresh_tokens()
    run = shell("podio_refresh", "--json")
    assert run.code == 1
    document = run.json()
    assert document["ok"] is False and document["reauth_required"] == 1
    assert document["error"].startswith("1 refresh failed")


# A command that cannot do its job says so at once --------------------------------------------

BLOCK_TASKS_API = """
import sys
# This interpreter has no Tasks API: neither Django's (6.0+) nor the backport (nor a
# backend built on them). tests/settings.py then leaves them out, as a host without them.
for name in ("django.tasks", "django_tasks", "django_tasks_db"):
    sys.modules[name] = None
from django.core.management import execute_from_command_line
execute_from_command_line(["manage.py", *sys.argv[1:]])
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["podio_refresh", "--enqueue", "--json"],
        ["podio_fetch_items", "1", "--app", "--store", "--enqueue", "--json"],
    ],
)
def test_enqueue_without_a_tasks_api_fails_at_once_with_nothing_due(tmp_path, fake, argv):
    from .concurrency.test_races import child_env

    env = {**os.environ, **child_env(fake)}
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_TASKS_API, *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert not PodioConnection.objects.exists()  # nothing due, and still a failure
    document = json.loads(result.stdout)
    assert document["ok"] is False and "Tasks API" in document["error"], document
    assert "Traceback" not in result.stderr


def test_enqueue_on_an_unknown_backend_fails_at_once(db, settings):
    settings.TASKS = {**settings.TASKS, "default": {"BACKEND": "no.such.Backend"}}
    run = shell("podio_refresh", "--enqueue", "--json")
    assert run.code == 1
    assert "no.such.Backend" in run.json()["error"]
