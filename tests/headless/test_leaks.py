"""The leak scan over the headless path: tokens posted as JSON must land nowhere in plaintext.

Every secret the fake issued (the browser's copies from the URL fragment, the pair our refresh
returned, the other client's tokens and secret, our client secret) is searched for in the
database, the decoded sessions, every log record (DEBUG, including Django's and urllib3's),
and the headless API's answers.
"""

from __future__ import annotations

import json
import logging

import pytest
from django.contrib.auth import get_user_model

from django_podio.models import PodioConnection

from ..scan import database_dump, find_leaks, sessions_dump
from .conftest import client_side_flow, provider_token, token_body

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "django", "django.request", "django_podio", "allauth"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    return caplog


def test_headless_login_connect_and_refusals_leave_no_secret(
    client, fake, token_auth, our_client_id, debug_logs
):
    answers: list[str] = []

    def post(body, **kwargs):
        status, payload = provider_token(client, body, **kwargs)
        answers.append(json.dumps(payload))
        return status

    # A first login (sign-up) and a returning one through the app API.
    first = client_side_flow(fake, our_client_id)
    assert post(token_body(first, our_client_id)) == 200
    client.logout()
    assert post(token_body(client_side_flow(fake, our_client_id), our_client_id), kind="app") == 200
    client.logout()
    # Refusals: a replay, another client's tokens, no refresh token, login off.
    assert post(token_body(first, our_client_id)) == 400
    other = fake.add_client()
    assert post(token_body(client_side_flow(fake, other[0]), our_client_id)) == 400
    no_refresh = client_side_flow(fake, our_client_id)
    assert post(token_body({**no_refresh, "refresh_token": None}, our_client_id)) == 400
    # Connect to a password user.
    grace = User.objects.create_user("grace", "grace@example.org", "pw-123456")
    client.force_login(grace)
    fake.current_user = fake.add_user(mail="grace@podio.example", name="Grace Hopper")
    connect = client_side_flow(fake, our_client_id)
    assert post(token_body(connect, our_client_id, process="connect")) == 200
    assert PodioConnection.objects.filter(user=grace).count() == 1

    secrets = fake.issued_secrets()
    assert first["access_token"] in secrets and other[1] in secrets
    leaks = find_leaks(
        secrets,
        database=database_dump(),
        sessions=sessions_dump(),
        logs="\n".join(r.getMessage() for r in debug_logs.records),
        answers="\n".join(answers),
    )
    assert leaks == {}
    # The scan saw real data: the token requests in the debug log, ciphertext in the rows.
    assert any("/oauth/token" in r.getMessage() for r in debug_logs.records)
    assert "gAAAAA" in database_dump()


def test_pending_signup_through_headless_keeps_tokens_sealed(
    client, fake, token_auth, our_client_id, settings, debug_logs
):
    settings.SOCIALACCOUNT_AUTO_SIGNUP = False
    fragment = client_side_flow(fake, our_client_id)

    status, payload = provider_token(client, token_body(fragment, our_client_id))

    assert status == 401, payload
    assert [f["id"] for f in payload["data"]["flows"] if f.get("is_pending")] == ["provider_signup"]
    assert PodioConnection.objects.count() == 0
    session = sessions_dump()
    assert "django_podio.sealed:" in session
    assert find_leaks(fake.issued_secrets(), sessions=session, database=database_dump()) == {}

    response = client.post(
        "/_allauth/browser/v1/auth/provider/signup",
        data=json.dumps({"email": "ada@example.com", "username": "ada"}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content[:400]
    connection = PodioConnection.objects.get()
    assert connection.user.username == "ada"
    assert connection.refresh_token in fake.issued_secrets()
    assert connection.refresh_token != fragment["refresh_token"]
    leaks = find_leaks(
        fake.issued_secrets(),
        database=database_dump(),
        sessions=sessions_dump(),
        logs="\n".join(r.getMessage() for r in debug_logs.records),
        answer=response.content.decode(),
    )
    assert leaks == {}
