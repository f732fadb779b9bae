"""The login's edges: scope through a pending sign-up, PKCE end to end, SOCIALACCOUNT_STORE_TOKENS,
authentication events, and the checks of allauth's own provider test mixin.

allauth 65.x no longer ships its ``OAuth2TestsMixin`` (its tests left the wheel in 65.10.0)
and the mixin mocks ``requests``; ``TestAllauthProviderContract`` makes the same checks through
the real flow against the fake Podio instead.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.contrib.auth import get_user_model
from django.urls import reverse

from django_podio.api import oauth
from django_podio.conf import AppCredentials
from django_podio.exceptions import InvalidGrant
from django_podio.models import PodioConnection

from .conftest import authorize, callback_path, login_with_podio, start_login
from .scan import database_dump, find_leaks, sessions_dump

pytestmark = pytest.mark.django_db
User = get_user_model()
CALLBACK = "http://testserver/accounts/podio/login/callback/"


@pytest.fixture
def provider_settings(settings):
    """Merge keys into SOCIALACCOUNT_PROVIDERS["podio"]: ``provider_settings(SCOPE=[...])``."""

    def apply(**extra):
        providers = dict(settings.SOCIALACCOUNT_PROVIDERS)
        providers["podio"] = {**providers["podio"], **extra}
        settings.SOCIALACCOUNT_PROVIDERS = providers

    return apply


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def signup_form(client) -> None:
    response = client.post(
        reverse("socialaccount_signup"), {"username": "ada", "email": "ada@example.com"}
    )
    assert response.status_code == 302, response.content[:400]


# Point 9: the granted scope survives a pending sign-up ---------------------------------------


def test_granted_scope_is_kept_on_the_account_through_a_pending_signup(
    client, fake, settings, provider_settings
):
    settings.SOCIALACCOUNT_AUTO_SIGNUP = False
    provider_settings(SCOPE=["global:read"])
    response = login_with_podio(client)
    assert response["Location"] == reverse("socialaccount_signup")
    signup_form(client)
    account = SocialAccount.objects.get()
    assert account.extra_data["scope"] == "global:read"


def test_granted_scope_reaches_the_connection_through_a_pending_signup(
    client, fake, settings, provider_settings
):
    settings.SOCIALACCOUNT_AUTO_SIGNUP = False
    provider_settings(SCOPE=["global:read"])
    login_with_podio(client)
    signup_form(client)
    assert PodioConnection.objects.get().scope == "global:read"


def test_scope_on_a_direct_login_too(client, fake, provider_settings):
    provider_settings(SCOPE=["global:read"])
    login_with_podio(client)
    assert SocialAccount.objects.get().extra_data["scope"] == "global:read"
    assert PodioConnection.objects.get().scope == "global:read"


# Point 11: PKCE end to end -------------------------------------------------------------------


def test_pkce_login_sends_the_verifier_that_matches_the_challenge(client, fake, provider_settings):
    provider_settings(OAUTH_PKCE_ENABLED=True)
    authorize_url = start_login(client)
    query = parse_qs(urlsplit(authorize_url).query)
    assert query["code_challenge_method"] == ["S256"]
    challenge = query["code_challenge"][0]
    response = client.get(callback_path(authorize(authorize_url)))
    assert response.status_code == 302 and response["Location"] == "/"
    [token_request] = fake.requests_to("/oauth/token", method="POST")
    assert s256(token_request.form["code_verifier"]) == challenge
    assert PodioConnection.objects.get().access_token in fake.issued_secrets()


def test_without_pkce_nothing_of_it_is_sent(client, fake, provider_settings):
    provider_settings(OAUTH_PKCE_ENABLED=False)
    query = parse_qs(urlsplit(start_login(client)).query)
    assert "code_challenge" not in query and "code_challenge_method" not in query
    login_with_podio(client)
    assert all("code_verifier" not in r.form for r in fake.requests_to("/oauth/token"))


@pytest.fixture
def creds(fake):
    return AppCredentials(fake.client_id, fake.client_secret)


def fake_authorize(fake, **params) -> str:
    """The code Podio's authorize endpoint hands out for these parameters."""
    base = {"client_id": fake.client_id, "redirect_uri": CALLBACK, "state": "s"}
    from urllib.parse import urlencode

    location = authorize(f"{fake.authorize_url}?{urlencode({**base, **params})}")
    return parse_qs(urlsplit(location).query)["code"][0]


@pytest.mark.parametrize("method", ["S256", "plain", None])
def test_fake_podio_checks_the_verifier(fake, creds, method):
    verifier = "v" * 20 + "-._~" + "w" * 30
    challenge = s256(verifier) if method == "S256" else verifier
    extra = {"code_challenge_method": method} if method else {}  # no method means plain
    for wrong in (None, "x" * 54):
        code = fake_authorize(fake, code_challenge=challenge, **extra)
        with pytest.raises(InvalidGrant):
            oauth.exchange_code(code, CALLBACK, code_verifier=wrong, credentials=creds)
    code = fake_authorize(fake, code_challenge=challenge, **extra)
    token = oauth.exchange_code(code, CALLBACK, code_verifier=verifier, credentials=creds)
    assert token.access_token in fake.issued_secrets()


def test_fake_podio_without_a_challenge_ignores_pkce(fake, creds):
    code = fake_authorize(fake)
    assert oauth.exchange_code(code, CALLBACK, credentials=creds).access_token


# Point 11: SOCIALACCOUNT_STORE_TOKENS never leaves plaintext in SocialToken -------------------


def assert_social_tokens_hold_no_plaintext(fake) -> None:
    rows = list(SocialToken.objects.values_list("token", "token_secret"))
    secrets = fake.issued_secrets()
    for token, token_secret in rows:
        assert token not in secrets and token_secret not in secrets
        for value in (token, token_secret):
            assert value == "" or value.startswith("django_podio.sealed:"), value[:30]
    assert find_leaks(secrets, database=database_dump(), sessions=sessions_dump()) == {}


def test_store_tokens_first_and_returning_login(client, fake, settings):
    settings.SOCIALACCOUNT_STORE_TOKENS = True
    login_with_podio(client)
    assert SocialToken.objects.count() == 1
    assert_social_tokens_hold_no_plaintext(fake)
    client.logout()
    login_with_podio(client)  # returning: allauth updates the row after social_account_updated
    assert_social_tokens_hold_no_plaintext(fake)
    connection = PodioConnection.objects.get()
    assert connection.access_token in fake.issued_secrets()
    assert not fake.refresh_tokens[connection.refresh_token].used


def test_store_tokens_connect_new_and_existing(client, fake, settings):
    settings.SOCIALACCOUNT_STORE_TOKENS = True
    user = User.objects.create_user("bob", "bob@example.org", "pw-123456")
    client.force_login(user)
    assert login_with_podio(client, process="connect").status_code == 302
    assert SocialAccount.objects.get().user == user
    assert_social_tokens_hold_no_plaintext(fake)
    assert login_with_podio(client, process="connect").status_code == 302  # already connected
    assert_social_tokens_hold_no_plaintext(fake)
    assert PodioConnection.objects.get().access_token in fake.issued_secrets()


def test_store_tokens_through_a_pending_signup(client, fake, settings):
    settings.SOCIALACCOUNT_STORE_TOKENS = True
    settings.SOCIALACCOUNT_AUTO_SIGNUP = False
    login_with_podio(client)
    signup_form(client)
    assert SocialToken.objects.count() == 1
    assert_social_tokens_hold_no_plaintext(fake)


# Authentication events at the entry points ---------------------------------------------------


@pytest.fixture
def auth_events(caplog):
    caplog.set_level(logging.INFO, logger="django_podio.auth")

    def events():
        return [r for r in caplog.records if r.name == "django_podio.auth"]

    return events


def test_login_connect_disconnect_events(client, fake, auth_events):
    login_with_podio(client)  # first login (sign-up)
    client.logout()
    login_with_podio(client)  # returning login
    connection = PodioConnection.objects.get()
    assert [r.podio_event for r in auth_events()] == ["login", "login"]
    first = auth_events()[0]
    assert first.connection_id == connection.pk and first.user_id == connection.user_id
    assert first.podio_ref == f"user:{connection.ref_id}"

    other = User.objects.create_user("bob", "bob@example.org", "pw-123456")
    client.force_login(other)
    fake.current_user = fake.add_user(mail="bob@podio.example", name="Bob")
    login_with_podio(client, process="connect")
    account = SocialAccount.objects.get(user=other)
    bob_connection = PodioConnection.objects.get(user=other)
    client.post(reverse("socialaccount_connections"), {"account": account.pk})
    names = [r.podio_event for r in auth_events()]
    assert names == ["login", "login", "connect", "disconnect"]
    disconnect = auth_events()[-1]
    assert disconnect.user_id == other.pk and disconnect.connection_id == bob_connection.pk

    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in auth_events())
    assert find_leaks(fake.issued_secrets(), events=text) == {}


def test_reconnecting_an_existing_account_is_a_connect_event(client, fake, auth_events):
    user = User.objects.create_user("bob", "bob@example.org", "pw-123456")
    client.force_login(user)
    login_with_podio(client, process="connect")
    login_with_podio(client, process="connect")
    assert [r.podio_event for r in auth_events()] == ["connect", "connect"]


# allauth's provider test mixin, made against the real flow ----------------------------------


class TestAllauthProviderContract:
    def test_login_with_signup_form(self, client, fake, settings):
        settings.SOCIALACCOUNT_AUTO_SIGNUP = False
        response = login_with_podio(client)
        assert response["Location"] == reverse("socialaccount_signup")
        page = client.get(reverse("socialaccount_signup"))
        assert page.status_code == 200
        signup_form(client)
        user = User.objects.get()
        assert not user.has_usable_password()
        account = SocialAccount.objects.get(user=user, provider="podio")
        provider_account = account.get_provider_account()
        assert provider_account.to_str() == "Ada Lovelace"
        assert provider_account.get_profile_url() is not None
        provider_account.get_avatar_url()
        assert provider_account.get_brand()["id"] == "podio"

    def test_provider_pkce_params(self, rf, provider_settings):
        from allauth.socialaccount.adapter import get_adapter

        provider_settings(OAUTH_PKCE_ENABLED=False)
        provider = get_adapter().get_provider(rf.get("/"), "podio")
        assert provider.get_pkce_params() == {}
        provider_settings(OAUTH_PKCE_ENABLED=True)
        provider = get_adapter().get_provider(rf.get("/"), "podio")
        params = provider.get_pkce_params()
        assert set(params) == {"code_challenge", "code_challenge_method", "code_verifier"}
        challenge = params["code_challenge"]
        challenge = challenge.decode() if isinstance(challenge, bytes) else challenge
        assert challenge == s256(params["code_verifier"])

    def test_authentication_error(self, client, fake):
        response = client.get(reverse("podio_callback"))
        assert "socialaccount/authentication_error.html" in [t.name for t in response.templates]


def test_the_consent_page_carries_the_challenge_through(fake):
    import requests

    fake.authorize_mode = "consent"
    base = {"client_id": fake.client_id, "redirect_uri": CALLBACK, "response_type": "code"}
    params = {**base, "code_challenge": "c" * 43, "code_challenge_method": "S256"}
    page = requests.get(fake.authorize_url, params=params, timeout=10).text
    assert 'name="code_challenge" value="' + "c" * 43 in page
    assert 'name="code_challenge_method" value="S256"' in page
