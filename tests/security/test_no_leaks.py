"""Proof that secrets stay secret: log in, use, refresh, fail; then scan everything."""

from __future__ import annotations

import logging

import pytest
from django.core.management import call_command

from django_podio import get_client, tokens
from django_podio.exceptions import PodioError
from django_podio.models import PodioConnection

from ..conftest import login_with_podio
from ..scan import database_dump, find_leaks, sessions_dump

pytestmark = pytest.mark.django_db


def test_no_secret_in_database_sessions_or_debug_logs(
    client, fake, caplog, admin_client, podio_settings
):
    podio_settings(MAX_RETRIES=0)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    errors: list[str] = []

    # Log in twice (sign-up, then a returning login).
    assert login_with_podio(client).status_code == 302
    client.logout()
    assert login_with_podio(client).status_code == 302
    connection = PodioConnection.objects.get()

    # Use the token, let it expire mid-use (refresh + replay), and force a refresh.
    api = get_client(connection.user)
    api.get("/user/status")
    fake.expire_access_tokens()
    api.get("/user/status")
    tokens.refresh_connection(connection, margin=10**9)

    # Failures: a 500, a network drop, a refused refresh token.
    for kind in ("500", "drop"):
        fake.add_fault(kind, path="/user/status")
        try:
            get_client(connection.user).get("/user/status")
        except PodioError as error:
            errors.append(f"{error!s} {error!r}")
    fake.revoke_refresh_tokens()
    result = tokens.refresh_connection(connection, margin=10**9)
    assert result.outcome is tokens.Outcome.REAUTH_REQUIRED
    errors.append(result.error)

    # The admin pages and a command's output.
    admin_pages = admin_client.get("/admin/django_podio/podioconnection/").content.decode()
    admin_pages += admin_client.get(
        f"/admin/django_podio/podioconnection/{connection.pk}/change/"
    ).content.decode()
    from io import StringIO

    out = StringIO()
    call_command("check", databases=["default"], stdout=out, stderr=out)

    secrets = fake.issued_secrets()
    assert len(secrets) >= 8  # codes, access and refresh tokens, the client secret
    leaks = find_leaks(
        secrets,
        database=database_dump(),
        sessions=sessions_dump(),
        logs="\n".join(r.getMessage() for r in caplog.records),
        errors="\n".join(errors),
        admin=admin_pages,
        command=out.getvalue(),
    )
    assert leaks == {}
    # The scan looked at real data: the debug log saw the requests, the database the rows.
    assert any("/user/status" in r.getMessage() for r in caplog.records)
    assert "gAAAAA" in database_dump()


def test_pending_signup_keeps_tokens_sealed_in_the_session(client, fake, settings, caplog):
    """allauth stashes the whole login in the session when sign-up needs a form."""
    caplog.set_level(logging.DEBUG)
    settings.SOCIALACCOUNT_AUTO_SIGNUP = False
    response = login_with_podio(client)
    assert response.status_code == 302 and response["Location"] == "/accounts/3rdparty/signup/"
    assert PodioConnection.objects.count() == 0
    session = sessions_dump()
    assert "socialaccount_sociallogin" in session and "django_podio.sealed:" in session
    assert find_leaks(fake.issued_secrets(), sessions=session, database=database_dump()) == {}

    response = client.post(
        "/accounts/3rdparty/signup/", {"username": "ada", "email": "ada@example.com"}
    )
    assert response.status_code == 302, response.content[:400]
    connection = PodioConnection.objects.get()
    assert connection.user.username == "ada"
    # Unsealed on the way into the encrypted model: real tokens that work.
    assert connection.access_token in fake.issued_secrets()
    assert connection.refresh_token in fake.issued_secrets()
    assert get_client(connection.user).get("/user/status")["user"]["mail"] == "ada@example.com"
    leaks = find_leaks(
        fake.issued_secrets(),
        database=database_dump(),
        sessions=sessions_dump(),
        logs="\n".join(r.getMessage() for r in caplog.records),
    )
    assert leaks == {}


def test_app_authentication_leaves_no_app_token_anywhere(fake, caplog, monkeypatch, admin_client):
    from io import StringIO

    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    app = fake.add_app(name="Projects")
    monkeypatch.setenv("PODIO_APP_TOKEN", app.app_token)
    out, err = StringIO(), StringIO()
    call_command("podio_app_auth", str(app.app_id), stdout=out, stderr=err)
    connection = PodioConnection.objects.get(app_id=app.app_id)
    get_client(app_id=app.app_id).get(f"/app/{app.app_id}")
    fake.revoke_refresh_tokens()
    tokens.refresh_connection(connection, margin=10**9)  # signs in again with the app token
    page = admin_client.get(f"/admin/django_podio/podioconnection/{connection.pk}/change/")
    assert app.app_token in fake.issued_secrets()
    leaks = find_leaks(
        fake.issued_secrets(),
        database=database_dump(),
        logs="\n".join(r.getMessage() for r in caplog.records),
        command=out.getvalue() + err.getvalue(),
        admin=page.content.decode(),
    )
    assert leaks == {}
