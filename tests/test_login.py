"""Log in with Podio end to end: allauth → the fake's authorize page → callback → tokens."""

from __future__ import annotations

import logging
import time

import pytest
from allauth.socialaccount.internal.statekit import STATES_SESSION_KEY
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.contrib.auth import get_user_model
from django.urls import reverse

from django_podio.models import PodioConnection

from .conftest import authorize, callback_params, callback_path, login_with_podio, start_login

pytestmark = pytest.mark.django_db
User = get_user_model()


def assert_nothing_created():
    assert User.objects.count() == 0
    assert SocialAccount.objects.count() == 0
    assert PodioConnection.objects.count() == 0


def test_first_login_signs_up_and_stores_encrypted_tokens(client, fake):
    response = login_with_podio(client)
    assert response.status_code == 302
    assert response["Location"] == "/"

    user = User.objects.get()
    podio_user = fake.current_user
    assert user.email == "ada@example.com"
    assert (user.first_name, user.last_name) == ("Ada", "Lovelace")
    account = SocialAccount.objects.get()
    assert account.provider == "podio" and account.uid == str(podio_user.user_id)
    assert account.user == user

    connection = PodioConnection.objects.get()
    assert connection.user == user and connection.social_account == account
    assert connection.kind == "user" and connection.status == "active"
    assert (connection.ref_type, connection.ref_id) == ("user", podio_user.user_id)
    assert connection.access_token in fake.issued_secrets()
    assert connection.refresh_token in fake.issued_secrets()
    assert connection.scope == "global:all"
    remaining = connection.expires_at.timestamp() - time.time()
    assert 28000 < remaining <= 28800

    assert SocialToken.objects.count() == 0
    extra = repr(account.extra_data)
    assert all(secret not in extra for secret in fake.issued_secrets())
    assert account.extra_data["profile"]["name"] == "Ada Lovelace"

    page = client.get("/")
    assert page.content.decode() == f"home {user.username}"


def test_token_request_is_form_encoded_with_the_right_grant(client, fake):
    login_with_podio(client)
    [token_request] = fake.requests_to("/oauth/token", method="POST")
    assert token_request.form["grant_type"] == "authorization_code"
    assert token_request.form["client_id"] == "test-client-id"
    assert token_request.form["redirect_uri"] == "http://testserver/accounts/podio/login/callback/"
    [profile] = fake.requests_to("/user/status")
    assert profile.headers["Authorization"].startswith("OAuth2 ")


def test_token_v2_json_endpoint_behind_a_setting(client, fake, podio_settings):
    podio_settings(TOKEN_JSON=True)
    assert login_with_podio(client).status_code == 302
    [token_request] = fake.requests_to("/oauth/token/v2", method="POST")
    assert token_request.json["grant_type"] == "authorization_code"
    assert PodioConnection.objects.count() == 1


def test_returning_login_updates_the_same_connection(client, fake):
    login_with_podio(client)
    first = PodioConnection.objects.get()
    client.logout()
    login_with_podio(client)
    second = PodioConnection.objects.get()
    assert second.pk == first.pk
    assert second.access_token != first.access_token
    assert second.refresh_token != first.refresh_token
    assert User.objects.count() == 1 and SocialAccount.objects.count() == 1


def test_connect_podio_to_an_existing_account(client, fake):
    user = User.objects.create_user("bob", "bob@example.org", "pw-123456")
    client.force_login(user)
    response = login_with_podio(client, process="connect")
    assert response.status_code == 302
    account = SocialAccount.objects.get()
    assert account.user == user
    assert PodioConnection.objects.get().user == user
    assert User.objects.count() == 1


def test_disconnect_deletes_the_connection(client, fake):
    user = User.objects.create_user("bob", "bob@example.org", "pw-123456")
    client.force_login(user)
    login_with_podio(client, process="connect")
    account = SocialAccount.objects.get()
    response = client.post(reverse("socialaccount_connections"), {"account": account.pk})
    assert response.status_code == 302
    assert SocialAccount.objects.count() == 0
    assert PodioConnection.objects.count() == 0


def test_blank_refresh_token_never_overwrites_a_stored_one(client, fake):
    from allauth.socialaccount.models import SocialLogin

    from django_podio import tokens

    login_with_podio(client)
    stored = PodioConnection.objects.get()
    account = SocialAccount.objects.get()
    token = SocialToken(account=account, token="new-access", token_secret="")
    login = SocialLogin(account=account, token=token)
    tokens.store_from_login(login)
    updated = PodioConnection.objects.get()
    assert updated.access_token == "new-access"
    assert updated.refresh_token == stored.refresh_token


def test_login_get_shows_confirmation_and_does_not_start_the_flow(client, fake):
    response = client.get(reverse("podio_login"))
    assert response.status_code == 200
    assert fake.requests_to("/oauth/authorize") == []


# Bad input: allauth's error or cancel page, one log line, nothing half-created ------------


def failed_login_log(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "django_podio.login"]


@pytest.fixture
def login_log(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_refused(response, caplog, fake, *, cancelled=False):
    if cancelled:
        assert response.status_code == 302
        assert response["Location"] == reverse("socialaccount_login_cancelled")
    else:
        assert response.status_code in (200, 400, 401, 403)
        assert (
            b"Third-Party Login Failure" in response.content or b"Login Failure" in response.content
        )
    lines = failed_login_log(caplog)
    assert len(lines) == 1, lines
    assert all(s not in lines[0] for s in fake.issued_secrets())
    assert_nothing_created()


def test_missing_state(client, fake, login_log):
    callback = authorize(start_login(client))
    params = callback_params(callback)
    response = client.get(reverse("podio_callback"), {"code": params["code"]})
    assert_refused(response, login_log, fake)


def test_forged_state(client, fake, login_log):
    callback = authorize(start_login(client))
    params = callback_params(callback)
    response = client.get(reverse("podio_callback"), {"code": params["code"], "state": "forged"})
    assert_refused(response, login_log, fake)
    assert fake.requests_to("/oauth/token") == []


def test_state_from_another_session(client, fake, login_log):
    from django.test import Client

    callback = authorize(start_login(Client()))
    response = client.get(callback_path(callback))
    assert_refused(response, login_log, fake)


def test_expired_state(client, fake, login_log):
    callback = authorize(start_login(client))
    session = client.session
    states = session[STATES_SESSION_KEY]
    for state_id, (data, ts, provider) in list(states.items()):
        states[state_id] = [data, ts - 601, provider]
    session[STATES_SESSION_KEY] = states
    session.save()
    response = client.get(callback_path(callback))
    assert_refused(response, login_log, fake)


def test_reused_state(client, fake, login_log):
    callback = authorize(start_login(client))
    assert client.get(callback_path(callback)).status_code == 302
    client.logout()
    login_log.clear()
    User.objects.all().delete()
    response = client.get(callback_path(callback))
    assert_refused(response, login_log, fake)


def test_user_denies_access(client, fake, login_log):
    fake.authorize_mode = "deny"
    response = login_with_podio(client)
    assert_refused(response, login_log, fake, cancelled=True)


def test_unknown_code(client, fake, login_log):
    callback = authorize(start_login(client))
    params = callback_params(callback)
    response = client.get(
        reverse("podio_callback"), {"code": "not-a-code-podio-issued", "state": params["state"]}
    )
    assert_refused(response, login_log, fake)
    assert "invalid_grant" in failed_login_log(login_log)[0]


def test_already_used_code(client, fake, login_log):
    first = callback_params(authorize(start_login(client)))
    assert client.get(reverse("podio_callback"), first).status_code == 302
    client.logout()
    User.objects.all().delete()
    login_log.clear()
    second = callback_params(authorize(start_login(client)))
    response = client.get(
        reverse("podio_callback"), {"code": first["code"], "state": second["state"]}
    )
    assert_refused(response, login_log, fake)


@pytest.mark.parametrize("kind", ["500", "503", "html", "malformed_json", "drop"])
def test_token_endpoint_failures(client, fake, login_log, podio_settings, kind):
    podio_settings(MAX_RETRIES=0)
    callback = authorize(start_login(client))
    fake.add_fault(kind, path="/oauth/token")
    response = client.get(callback_path(callback))
    assert_refused(response, login_log, fake)


@pytest.mark.parametrize("kind", ["500", "html", "malformed_json", "drop"])
def test_profile_failures(client, fake, login_log, podio_settings, kind):
    podio_settings(MAX_RETRIES=0)
    callback = authorize(start_login(client))
    fake.add_fault(kind, path="/user/status")
    response = client.get(callback_path(callback))
    assert_refused(response, login_log, fake)


def test_rate_limited_token_endpoint(client, fake, login_log, podio_settings):
    podio_settings(RATE_LIMIT_MAX_WAIT=0)
    callback = authorize(start_login(client))
    fake.add_rate_limit(300, path="/oauth/token")
    response = client.get(callback_path(callback))
    assert_refused(response, login_log, fake)
