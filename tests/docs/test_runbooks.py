"""The rotation runbooks, rehearsed command by command as pasted.

docs/rotation.rst (client secret, app tokens) runs in a newcomer's host project (the
quickstart's ``startproject``) against the fake Podio started as the quickstart starts it
(``python -m django_podio.testing``): every shell block of the runbook is run in bash as
written, with only the fake's port and ``APP_ID`` filled in; what the docs ask a person to do
in Podio is the block they give for the fake. The promise under test: no connection is lost,
no user has to log in again.

docs/security.rst's encryption-key runbook runs in this process (``call_command``), the key
being a setting.
"""

from __future__ import annotations

import json
import re
import shlex
import sqlite3
import subprocess
from collections.abc import Callable
from io import StringIO

import pytest
import requests
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from django_podio import get_client
from django_podio.models import PodioConnection
from tests.conftest import login_with_podio

from .hostproject import HostProject, free_port, host_project, replace_port
from .snippets import snippet


def run_block(
    project: HostProject,
    name: str,
    *,
    expect_ok: bool = True,
    then: Callable[[str], str] | None = None,
    **fill: str,
) -> str:
    """Run a documented shell block in bash, as pasted in the project's directory (``then``
    edits it first as the docs' prose says, e.g. a query string added to a URL)."""
    text = snippet(name)
    if "8001" in text:
        text = replace_port(text, int(project.fake_url.rsplit(":", 1)[1]))
    for placeholder, value in fill.items():
        assert placeholder in text, (name, placeholder)
        text = text.replace(placeholder, value)
    if then is not None:
        text = then(text)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", text],
        cwd=project.root,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = result.stdout + result.stderr
    assert (result.returncode == 0) is expect_ok, f"{text!r} exited {result.returncode}:\n{output}"
    return result.stdout if expect_ok else output


def connections(project: HostProject) -> dict[int, tuple[str, str | None]]:
    """``{id: (status, stored refresh-token ciphertext)}`` read straight from its database."""
    with sqlite3.connect(project.root / "db.sqlite3") as db:
        rows = db.execute("SELECT id, status, refresh_token FROM django_podio_podioconnection")
        return {pk: (status, refresh) for pk, status, refresh in rows}


def fake_log(project: HostProject) -> str:
    return project.logs[0].read_text()


def sign_in_through_the_site(project: HostProject) -> str:
    """The quickstart's login, over HTTP as a browser does it: allauth's Podio button (a
    POST), the fake's authorize page (approves at once), the callback, the signed-in page."""
    port = free_port()
    project.background(
        f"python manage.py runserver 127.0.0.1:{port} --noreload", ready="Quit the server with"
    )
    project.wait_for_port(port)
    site = f"http://127.0.0.1:{port}"
    with requests.Session() as browser:
        form = browser.get(f"{site}/accounts/podio/login/?next=/", timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)[1]
        page = browser.post(form.url, data={"csrfmiddlewaretoken": token, "next": "/"}, timeout=30)
    assert page.status_code == 200 and page.url == f"{site}/", page.text[:500]
    return page.text


def app_of_the_demo(project: HostProject) -> tuple[str, str]:
    """The demo app's id and app token, as the fake's banner prints them."""
    found = re.search(r"app (\d+) .*PODIO_APP_TOKEN=(\S+)", project.banner)
    assert found, project.banner
    return found[1], found[2]


def test_rehearsing_the_client_secret_runbook_loses_no_connection(tmp_path):
    with host_project(tmp_path) as project:
        project.manage("migrate", "-v0")
        assert sign_in_through_the_site(project).strip() == "Signed in to Podio as Demo User."
        app_id, app_token = app_of_the_demo(project)
        project.env["PODIO_APP_TOKEN"] = app_token
        project.manage("podio_app_auth", app_id)
        before = connections(project)
        assert len(before) == 2

        # Step 1: refresh everything now.
        assert "2 refreshed, 0 skipped, 0 failed" in run_block(project, "rotation-secret-before")
        refreshed = connections(project)
        assert all(refreshed[pk][1] != before[pk][1] for pk in before)

        # Step 2, with the fake: a new secret, printed by the fake too; the old one is refused.
        new_secret = json.loads(run_block(project, "rotation-fake-client-secret"))["client_secret"]
        assert new_secret != project.env["PODIO_CLIENT_SECRET"]
        assert f"PODIO_CLIENT_SECRET={new_secret}" in fake_log(project)
        # Until step 3, requests keep working (step 1's fresh tokens)...
        shell = project.manage("shell", stdin=snippet("quickstart-shell"))
        assert shell.strip().splitlines()[-1] == "Demo User"
        # ...and a refresh now fails (what step 4 reports while a host has the old secret)
        # without losing anything: same tokens, still active.
        failed = run_block(project, "rotation-secret-after", expect_ok=False)
        assert "0 refreshed, 0 skipped, 2 failed" in failed, failed
        assert "invalid_client" in failed, failed
        assert connections(project) == refreshed

        # Step 3: the new secret where the old one was (the quickstart's environment).
        project.env["PODIO_CLIENT_SECRET"] = new_secret

        # Step 4: refresh everything with it; no failure.
        assert "2 refreshed, 0 skipped, 0 failed" in run_block(project, "rotation-secret-after")
        after = connections(project)
        assert set(after) == set(before)
        assert all(after[pk][0] == "active" and after[pk][1] != refreshed[pk][1] for pk in after)
        shell = project.manage("shell", stdin=snippet("quickstart-shell"))
        assert shell.strip().splitlines()[-1] == "Demo User"


CHECK_APP = """
from django_podio import get_client
print(get_client(app_id={app_id}).get("/app/{app_id}")["app_id"])
"""


@pytest.mark.parametrize("revoke", [False, True], ids=["tokens-kept", "tokens-revoked"])
def test_rehearsing_the_app_token_runbook_loses_no_connection(tmp_path, revoke):
    with host_project(tmp_path) as project:
        project.manage("migrate", "-v0")
        app_id, old_token = app_of_the_demo(project)
        project.env["PODIO_APP_TOKEN"] = old_token
        project.manage("podio_app_auth", app_id)
        [(pk, _)] = connections(project).items()

        # Step 1, with the fake: a new app token (with ``?revoke_tokens=1``, the tokens issued
        # through the old one stop working too, and only step 2 brings the connection back).
        answer = run_block(
            project,
            "rotation-fake-app-token",
            APP_ID=app_id,
            then=(lambda text: text.rstrip() + "?revoke_tokens=1") if revoke else None,
        )
        new_token = json.loads(answer)["app_token"]
        assert new_token != old_token and f"PODIO_APP_TOKEN={new_token}" in fake_log(project)

        # Step 2: store it; the command reads $PODIO_APP_TOKEN (or prompts for it).
        project.env["PODIO_APP_TOKEN"] = new_token
        run_block(project, "rotation-app-token", APP_ID=app_id)

        # Step 3: the check is clean, get_client(app_id=APP_ID) works, on the same row.
        assert "no issues" in project.manage("check", "--database", "default")
        shell = project.manage("shell", stdin=CHECK_APP.format(app_id=app_id))
        assert shell.strip().splitlines()[-1] == app_id
        [(same, (status, _))] = connections(project).items()
        assert (same, status) == (pk, "active")


def log_in_users(fake, *mails: str) -> list:
    for mail in mails:
        fake.current_user = fake.add_user(mail=mail, name=mail.split("@")[0].title())
        login_with_podio(Client())
    users = get_user_model().objects.filter(email__in=mails)
    assert users.count() == len(mails)
    return list(users)


def who(user) -> str:
    return get_client(user).get("/user/status")["user"]["mail"]


def run_documented(name: str) -> list[str]:
    """Run each ``python manage.py`` line of the named block with call_command."""
    outputs = []
    for line in snippet(name).splitlines():
        argv = shlex.split(line, comments=True)
        assert argv[:2] == ["python", "manage.py"], line
        out = StringIO()
        call_command(*argv[2:], stdout=out, stderr=out)
        outputs.append(out.getvalue())
    return outputs


@pytest.mark.django_db(transaction=True)
def test_rotating_the_encryption_key_loses_no_connection(fake_podio, settings, monkeypatch):
    """docs/security.rst: [new, old], podio_reencrypt, check, then the new key alone."""
    users = log_in_users(fake_podio, "ada@example.com")
    old_key, new_key = settings.FIELD_ENCRYPTION_KEY, Fernet.generate_key().decode()

    # Step 1: the documented settings block, with both keys in the environment.
    monkeypatch.setenv("FIELD_ENCRYPTION_KEY", new_key)
    monkeypatch.setenv("FIELD_ENCRYPTION_KEY_OLD", old_key)
    namespace: dict = {}
    exec(snippet("security-key-list"), namespace)  # noqa: S102 - the docs' own settings block
    assert namespace["FIELD_ENCRYPTION_KEY"] == [new_key, old_key]
    settings.FIELD_ENCRYPTION_KEY = namespace["FIELD_ENCRYPTION_KEY"]
    # Step 2: deployed; everything keeps working.
    assert who(users[0]) == "ada@example.com"

    # Step 3: dry run, then re-encrypt.
    dry_run, real_run = run_documented("security-reencrypt")
    assert dry_run != real_run

    # Step 4: the database check is clean.
    out = StringIO()
    call_command("check", databases=["default"], stdout=out, stderr=out)
    assert "no issues" in out.getvalue(), out.getvalue()

    # Step 5: the new key alone; tokens still read, and a refresh still works.
    settings.FIELD_ENCRYPTION_KEY = new_key
    assert who(users[0]) == "ada@example.com"
    fake_podio.expire_access_tokens()
    assert who(users[0]) == "ada@example.com"
    assert PodioConnection.objects.get().status == "active"
