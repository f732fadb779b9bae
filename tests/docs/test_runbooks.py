"""The rotation runbooks of docs/rotation.rst, run command by command against the fake Podio.

Each ``python manage.py ...`` line is read out of the docs and run with ``call_command``; what
the docs ask a person to do at Podio (issue a new secret or app token) the fake does. The
promise under test: no connection is lost, no user has to log in again.
"""

from __future__ import annotations

import shlex
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from django_podio import get_client
from django_podio.exceptions import PodioError
from django_podio.models import PodioConnection
from tests.conftest import login_with_podio

from .snippets import snippet

pytestmark = pytest.mark.django_db(transaction=True)
NEW_SECRET = "rotated-client-secret-0123456789"


def run_documented(name: str, **substitutions: str) -> list[str]:
    """Run each ``python manage.py`` line of the named block; return their outputs."""
    outputs = []
    for line in snippet(name).splitlines():
        for placeholder, value in substitutions.items():
            line = line.replace(placeholder, value)
        argv = shlex.split(line, comments=True)
        assert argv[:2] == ["python", "manage.py"], line
        out = StringIO()
        call_command(*argv[2:], stdout=out, stderr=out)
        outputs.append(out.getvalue())
    return outputs


def log_in_users(fake, *mails: str) -> list:
    for mail in mails:
        fake.current_user = fake.add_user(mail=mail, name=mail.split("@")[0].title())
        login_with_podio(Client())
    users = get_user_model().objects.filter(email__in=mails)
    assert users.count() == len(mails)
    return list(users)


def who(user) -> str:
    return get_client(user).get("/user/status")["user"]["mail"]


def test_rotating_the_client_secret_loses_no_connection(fake_podio, settings):
    users = log_in_users(fake_podio, "ada@example.com", "grace@example.com")
    before = {c.pk: c.refresh_token for c in PodioConnection.objects.all()}

    # Step 1: refresh everything now.
    run_documented("rotation-secret-before")
    assert all(
        c.refresh_token != before[c.pk] and c.status == "active"
        for c in PodioConnection.objects.all()
    )

    # Step 2, at Podio: a new secret; the old one is refused from now on.
    fake_podio.client_secret = NEW_SECRET
    # Between steps 2 and 3 nothing needs a refresh (step 1), so requests keep working...
    assert [who(user) for user in users] == ["ada@example.com", "grace@example.com"]
    # ...and even a forced refresh with the old secret loses nothing: it fails, the tokens
    # stay, the connection stays active.
    fake_podio.expire_access_tokens()
    with pytest.raises(PodioError):
        who(users[0])
    assert set(PodioConnection.objects.values_list("status", flat=True)) == {"active"}

    # Step 3: the new secret in the configuration.
    app = settings.SOCIALACCOUNT_PROVIDERS["podio"]["APP"]
    settings.SOCIALACCOUNT_PROVIDERS = {"podio": {"APP": {**app, "secret": NEW_SECRET}}}

    # Step 4: refresh everything with it.
    run_documented("rotation-secret-after")

    connections = PodioConnection.objects.all()
    assert set(connections.values_list("pk", flat=True)) == set(before)
    assert set(connections.values_list("status", flat=True)) == {"active"}
    assert [who(user) for user in users] == ["ada@example.com", "grace@example.com"]


def test_rotating_an_app_token_loses_no_connection(fake_podio, monkeypatch):
    app = fake_podio.add_app(name="Projects")
    fake_podio.add_items(app.app_id, 3)
    monkeypatch.setenv("PODIO_APP_TOKEN", app.app_token)
    call_command("podio_app_auth", str(app.app_id), stdout=StringIO())
    connection = PodioConnection.objects.get(app_id=app.app_id)

    # Step 1, at Podio: a new app token; the old one no longer signs in.
    old_token, app.app_token = app.app_token, "fpapptok-rotated-0123456789abcdef"
    assert get_client(app_id=app.app_id).get(f"/app/{app.app_id}")["app_id"] == app.app_id

    # Step 2: store it (the command reads $PODIO_APP_TOKEN, as the docs say).
    monkeypatch.setenv("PODIO_APP_TOKEN", app.app_token)
    run_documented("rotation-app-token", APP_ID=str(app.app_id))

    stored = PodioConnection.objects.get(app_id=app.app_id)
    assert stored.pk == connection.pk and stored.status == "active"
    assert stored.app_token == app.app_token != old_token
    assert PodioConnection.objects.count() == 1

    # Step 3: it keeps working, even when it must sign in again with the new app token.
    fake_podio.expire_access_tokens()
    fake_podio.revoke_refresh_tokens()
    assert get_client(app_id=app.app_id).get(f"/app/{app.app_id}")["app_id"] == app.app_id
    assert PodioConnection.objects.get(pk=connection.pk).status == "active"


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
