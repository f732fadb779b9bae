"""Headless token login and connect with the client-side flow's tokens (issue 12).

Real allauth headless views, real database, the fake Podio over HTTP. The promise under test:
no token is trusted before its refresh token was spent with *our* client's credentials.
"""

from __future__ import annotations

import json
import logging

import pytest
from allauth.account import app_settings as account_settings
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import translation

from django_podio import get_client
from django_podio.models import PodioConnection
from django_podio.socialaccount.token_login import MISSING_REFRESH_MESSAGE

from .conftest import (
    CLIENTS,
    accepted_token_requests,
    client_side_flow,
    error_codes,
    provider_token,
    refresh_at_podio,
    token_body,
)

pytestmark = pytest.mark.django_db
User = get_user_model()


def nothing_created() -> bool:
    return not (
        User.objects.exists()
        or SocialAccount.objects.exists()
        or PodioConnection.objects.exists()
        or SocialToken.objects.exists()
    )


def app_session_token(client, username: str, password: str) -> str:
    """A password sign-in through the headless *app* API: its session token."""
    response = client.post(
        "/_allauth/app/v1/auth/login",
        data=json.dumps({"username": username, "password": password}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content[:300]
    return response.json()["meta"]["session_token"]


# Login ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CLIENTS)
def test_login_binds_the_tokens_to_our_client_and_keeps_a_new_pair(
    client, fake, token_auth, our_client_id, kind
):
    fragment = client_side_flow(fake, our_client_id, scope="global:all")
    fake.reset_log()

    status, payload = provider_token(client, token_body(fragment, our_client_id), kind=kind)

    assert status == 200, payload
    assert payload["meta"]["is_authenticated"] is True
    if kind == "app":
        assert payload["meta"]["session_token"]
    user = User.objects.get()
    assert user.email == "ada@example.com"
    account = SocialAccount.objects.get(user=user, provider="podio")
    assert account.uid == str(fake.user_by_mail("ada@example.com").user_id)
    assert account.extra_data["scope"] == "global:all"
    connection = PodioConnection.objects.get()
    assert (connection.user, connection.social_account) == (user, account)
    assert connection.status == "active" and connection.scope == "global:all"
    # The kept pair is the one our refresh returned, not the browser's copies.
    assert connection.access_token not in fragment.values()
    assert connection.refresh_token not in fragment.values()
    assert fake.refresh_tokens[connection.refresh_token].client_id == our_client_id
    # Order: the refresh with our credentials came first, then the profile with its token.
    seen = [(r.path, r.status) for r in fake.requests]
    assert seen == [("/oauth/token", 200), ("/user/status", 200)]
    assert fake.requests[1].headers["Authorization"] == f"OAuth2 {connection.access_token}"
    # The stored tokens work; the browser's refresh token is spent.
    assert get_client(user).get("/user/status")["user"]["mail"] == "ada@example.com"
    spent = refresh_at_podio(fake, fragment["refresh_token"], our_client_id, fake.client_secret)
    assert spent.status_code == 400 and spent.json()["error"] == "invalid_grant"
    # allauth's token table stays empty (SOCIALACCOUNT_STORE_TOKENS off).
    assert not SocialToken.objects.exists()


def test_returning_login_updates_the_same_connection(client, fake, token_auth, our_client_id):
    first = client_side_flow(fake, our_client_id)
    assert provider_token(client, token_body(first, our_client_id))[0] == 200
    connection = PodioConnection.objects.get()
    old_refresh = connection.refresh_token
    client.logout()

    second = client_side_flow(fake, our_client_id)
    status, payload = provider_token(client, token_body(second, our_client_id))

    assert status == 200 and payload["meta"]["is_authenticated"], payload
    assert User.objects.count() == 1 and PodioConnection.objects.count() == 1
    connection.refresh_from_db()
    assert connection.refresh_token != old_refresh
    assert fake.refresh_tokens[connection.refresh_token].client_id == our_client_id


# Token substitution --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CLIENTS)
def test_tokens_another_client_obtained_are_refused(client, fake, token_auth, our_client_id, kind):
    other = fake.add_client(name="Someone else's app")
    fragment = client_side_flow(fake, other[0])
    # The replay carries our client_id (allauth requires it); the tokens are not ours.
    fake.reset_log()

    status, payload = provider_token(client, token_body(fragment, our_client_id), kind=kind)

    assert status == 400 and error_codes(payload) == ["invalid_token"], payload
    assert nothing_created()
    assert accepted_token_requests(fake, our_client_id) == []
    # Nothing was trusted: the foreign access token was never used, the profile never read.
    assert [r.path for r in fake.requests] == ["/oauth/token"]
    assert fake.requests[0].status == 400
    # Refused by Podio, not spent: the other site's login keeps working.
    assert refresh_at_podio(fake, fragment["refresh_token"], *other).status_code == 200


def test_foreign_access_token_with_our_own_refresh_token_logs_in_as_ours_only(
    client, fake, token_auth, our_client_id
):
    """Mixing copies: the refresh token decides who signs in, the sent access token is unused."""
    victim = fake.current_user
    other = fake.add_client()
    foreign = client_side_flow(fake, other[0])
    fake.current_user = fake.add_user(mail="mallory@example.com", name="Mallory")
    own = client_side_flow(fake, our_client_id)
    body = token_body(
        {**own, "access_token": foreign["access_token"]},
        our_client_id,
    )
    status, _payload = provider_token(client, body)
    assert status == 200
    account = SocialAccount.objects.get()
    assert account.uid == str(fake.current_user.user_id) != str(victim.user_id)
    assert not [
        r
        for r in fake.requests
        if r.headers.get("Authorization") == f"OAuth2 {foreign['access_token']}"
    ]


def test_replayed_request_is_refused(client, fake, token_auth, our_client_id):
    fragment = client_side_flow(fake, our_client_id)
    body = token_body(fragment, our_client_id)
    assert provider_token(client, body)[0] == 200
    connection = PodioConnection.objects.get()
    stored = (connection.access_token, connection.refresh_token)
    client.logout()

    for kind in CLIENTS:
        status, payload = provider_token(client, body, kind=kind)
        assert status == 400 and error_codes(payload) == ["invalid_token"], payload
        assert payload.get("meta", {}).get("is_authenticated") is not True
    # The refused replays left the stored pair alone, and it still works.
    connection.refresh_from_db()
    assert (connection.access_token, connection.refresh_token) == stored
    assert get_client(connection.user).get("/user/status")["user"]["mail"] == "ada@example.com"
    assert User.objects.count() == 1


# Refusals before Podio is asked --------------------------------------------------------------


@pytest.mark.parametrize("refresh_token", [None, "", "   ", 12345, ["x"], {"a": 1}])
def test_no_refresh_token_no_login(client, fake, token_auth, our_client_id, refresh_token):
    fragment = client_side_flow(fake, our_client_id)
    fake.reset_log()
    body = token_body({**fragment, "refresh_token": None}, our_client_id)
    if refresh_token is not None:
        body["token"]["refresh_token"] = refresh_token

    status, payload = provider_token(client, body)

    assert status == 400 and error_codes(payload) == ["invalid_token"], payload
    assert payload["errors"][0]["message"] == MISSING_REFRESH_MESSAGE
    assert nothing_created()
    assert fake.requests == []  # the access token alone is never even tried


def test_wrong_client_id_is_refused_by_allauth(client, fake, token_auth, our_client_id):
    fragment = client_side_flow(fake, our_client_id)
    fake.reset_log()
    for client_id in ("someone-else", ""):
        status, payload = provider_token(client, token_body(fragment, client_id))
        assert status == 400 and error_codes(payload) == ["invalid_token"], payload
    body = token_body(fragment, our_client_id)
    del body["token"]["client_id"]
    status, payload = provider_token(client, body)
    assert status == 400 and error_codes(payload) == ["client_id_required"], payload
    assert nothing_created() and fake.requests == []


@pytest.mark.parametrize("value", [None, False, "true", 1])
def test_token_login_off_unless_exactly_true(client, fake, settings, our_client_id, value):
    if value is not None:
        providers = dict(settings.SOCIALACCOUNT_PROVIDERS)
        providers["podio"] = {**providers["podio"], "TOKEN_AUTH": value}
        settings.SOCIALACCOUNT_PROVIDERS = providers
    fragment = client_side_flow(fake, our_client_id)
    fake.reset_log()

    status, payload = provider_token(client, token_body(fragment, our_client_id))

    assert status == 400, payload
    assert error_codes(payload) == ["token_authentication_not_supported"]
    assert nothing_created() and fake.requests == []


def test_headless_config_lists_the_token_flow_only_when_on(client, settings, token_auth):
    flows = client.get("/_allauth/browser/v1/config").json()["data"]["socialaccount"]
    podio = next(p for p in flows["providers"] if p["id"] == "podio")
    assert "provider_token" in podio["flows"] and podio["client_id"] == "test-client-id"
    providers = dict(settings.SOCIALACCOUNT_PROVIDERS)
    providers["podio"] = {k: v for k, v in providers["podio"].items() if k != "TOKEN_AUTH"}
    settings.SOCIALACCOUNT_PROVIDERS = providers
    flows = client.get("/_allauth/browser/v1/config").json()["data"]["socialaccount"]
    podio = next(p for p in flows["providers"] if p["id"] == "podio")
    assert "provider_token" not in podio["flows"]


# Podio failing around the binding -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "drop", "420"])
def test_token_endpoint_failure_is_invalid_token(
    client, fake, token_auth, our_client_id, podio_settings, kind
):
    podio_settings(MAX_RETRIES=0, RATE_LIMIT_MAX_WAIT=0)
    fragment = client_side_flow(fake, our_client_id)
    fake.add_fault(kind, path="/oauth/token")
    status, payload = provider_token(client, token_body(fragment, our_client_id))
    assert status == 400 and error_codes(payload) == ["invalid_token"], payload
    assert nothing_created()


def test_profile_failure_after_binding_is_invalid_token(
    client, fake, token_auth, our_client_id, podio_settings
):
    podio_settings(MAX_RETRIES=0)
    fragment = client_side_flow(fake, our_client_id)
    fake.add_fault("500", path="/user/status")
    status, payload = provider_token(client, token_body(fragment, our_client_id))
    assert status == 400 and error_codes(payload) == ["invalid_token"], payload
    assert nothing_created()


def test_refresh_answer_without_access_token_is_spent_once_more(
    client, fake, token_auth, our_client_id
):
    answers = []

    def first_without_access_token(body):
        answers.append(body)
        if len(answers) == 1:
            body.pop("access_token")
        return body

    fake.token_answer = first_without_access_token
    fragment = client_side_flow(fake, our_client_id)
    status, payload = provider_token(client, token_body(fragment, our_client_id))
    assert status == 200, payload
    connection = PodioConnection.objects.get()
    assert connection.refresh_token == answers[1]["refresh_token"]
    assert get_client(connection.user).get("/user/status")["user"]["mail"] == "ada@example.com"


# Connect -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CLIENTS)
def test_connect_attaches_podio_to_the_signed_in_user(
    client, fake, token_auth, our_client_id, kind
):
    grace = User.objects.create_user("grace", "grace@example.org", "pw-123456")
    session_token = ""
    if kind == "browser":
        client.force_login(grace)
    else:
        session_token = app_session_token(client, "grace", "pw-123456")
    fragment = client_side_flow(fake, our_client_id)

    status, payload = provider_token(
        client,
        token_body(fragment, our_client_id, process="connect"),
        kind=kind,
        session_token=session_token,
    )

    assert status == 200, payload
    assert User.objects.count() == 1
    account = SocialAccount.objects.get(provider="podio")
    assert account.user == grace
    connection = PodioConnection.objects.get()
    assert connection.user == grace and connection.social_account == account
    assert get_client(grace).get("/user/status")["user"]["mail"] == "ada@example.com"
    spent = refresh_at_podio(fake, fragment["refresh_token"], our_client_id, fake.client_secret)
    assert spent.json()["error"] == "invalid_grant"


def test_connect_needs_a_signed_in_user(client, fake, token_auth, our_client_id):
    fragment = client_side_flow(fake, our_client_id)
    response = client.post(
        "/_allauth/browser/v1/auth/provider/token",
        data=json.dumps(token_body(fragment, our_client_id, process="connect")),
        content_type="application/json",
    )
    # allauth's connect flow raises PermissionDenied for an anonymous user: Django's 403.
    assert response.status_code == 403
    assert nothing_created()


def test_connect_of_an_account_connected_to_someone_else_is_refused(
    client, fake, token_auth, our_client_id
):
    # Ada's Podio account belongs to the user who signed up with it.
    assert (
        provider_token(client, token_body(client_side_flow(fake, our_client_id), our_client_id))[0]
        == 200
    )
    owner = User.objects.get()
    owner_account = SocialAccount.objects.get()
    client.logout()
    grace = User.objects.create_user("grace", "grace@example.org", "pw-123456")
    client.force_login(grace)

    fragment = client_side_flow(fake, our_client_id)
    status, payload = provider_token(client, token_body(fragment, our_client_id, process="connect"))

    assert status == 400 and error_codes(payload) == ["connected_other"], payload
    assert list(SocialAccount.objects.all()) == [owner_account]
    assert SocialAccount.objects.get().user == owner
    assert not PodioConnection.objects.filter(user=grace).exists()
    assert PodioConnection.objects.get().user == owner


# Events --------------------------------------------------------------------------------------


def test_auth_events_name_the_client_side_flow(client, fake, token_auth, our_client_id, caplog):
    caplog.set_level(logging.INFO, logger="django_podio")
    assert (
        provider_token(client, token_body(client_side_flow(fake, our_client_id), our_client_id))[0]
        == 200
    )
    other = fake.add_client()
    provider_token(client, token_body(client_side_flow(fake, other[0]), our_client_id))
    events = [r for r in caplog.records if r.name == "django_podio.auth"]
    assert [(r.podio_event, r.podio_flow) for r in events] == [("login", "client_side")]
    refusals = [r.getMessage() for r in caplog.records if "token login refused" in r.getMessage()]
    assert refusals == [
        "Podio token login refused: Podio did not refresh the token for our client "
        "(HTTP 400 invalid_grant)"
    ]


# Rate limit ----------------------------------------------------------------------------------


def test_token_logins_are_rate_limited_before_podio_is_asked(
    client, fake, token_auth, our_client_id, settings
):
    """Junk tokens must not spend our client's token-endpoint budget at Podio."""
    settings.ACCOUNT_RATE_LIMITS = {"login": "3/m/ip"}
    other = fake.add_client()
    fake.reset_log()
    answers = [
        provider_token(client, token_body(client_side_flow(fake, other[0]), our_client_id))
        for _ in range(5)
    ]
    assert [status for status, _ in answers] == [400, 400, 400, 429, 429]
    assert len(fake.requests_to("/oauth/token")) == 3
    assert nothing_created()


# Decided before the browser's refresh token is spent (issue 17) ----------------------------


def refresh_grants(fake) -> list:
    """Every refresh_token grant the fake's token endpoint received."""
    return [
        r
        for r in fake.requests_to("/oauth/token", "POST")
        if (r.form or r.json or {}).get("grant_type") == "refresh_token"
    ]


def still_works(fake, fragment, our_client_id) -> bool:
    """The browser's refresh token was not spent: Podio still refreshes it for our client."""
    answer = refresh_at_podio(fake, fragment["refresh_token"], our_client_id, fake.client_secret)
    return answer.status_code == 200


@pytest.mark.parametrize("kind", CLIENTS)
def test_connect_with_nobody_signed_in_spends_nothing(
    client, fake, token_auth, our_client_id, kind
):
    fragment = client_side_flow(fake, our_client_id)
    fake.reset_log()
    response = client.post(
        f"/_allauth/{kind}/v1/auth/provider/token",
        data=json.dumps(token_body(fragment, our_client_id, process="connect")),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert refresh_grants(fake) == [] and fake.requests == []
    assert nothing_created()
    assert still_works(fake, fragment, our_client_id)


class SignUpClosedAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin):
        return False


class OnlyOurDomainAdapter(DefaultSocialAccountAdapter):
    """Sign-up for one mail domain: it needs to know who signs up to answer."""

    def is_open_for_signup(self, request, sociallogin):
        return (sociallogin.user.email or "").endswith("@example.org")


@pytest.mark.parametrize("closed_by", ["ACCOUNT_SIGNUP_ENABLED", "adapter"])
@pytest.mark.parametrize("kind", CLIENTS)
def test_login_while_sign_up_is_closed_spends_nothing(
    client, fake, settings, token_auth, our_client_id, kind, closed_by
):
    if closed_by == "adapter":
        settings.SOCIALACCOUNT_ADAPTER = f"{__name__}.SignUpClosedAdapter"
    else:
        if not hasattr(account_settings, "SIGNUP_ENABLED"):
            pytest.skip(
                "allauth before 65.22 has no ACCOUNT_SIGNUP_ENABLED (the adapter case runs)"
            )
        settings.ACCOUNT_SIGNUP_ENABLED = False
    fragment = client_side_flow(fake, our_client_id)
    fake.reset_log()
    response = client.post(
        f"/_allauth/{kind}/v1/auth/provider/token",
        data=json.dumps(token_body(fragment, our_client_id)),
        content_type="application/json",
    )
    assert response.status_code == 403, response.content[:300]
    assert refresh_grants(fake) == []
    assert nothing_created()
    assert still_works(fake, fragment, our_client_id)


def test_a_returning_user_signs_in_while_sign_up_is_closed(
    client, fake, settings, token_auth, our_client_id
):
    assert (
        provider_token(client, token_body(client_side_flow(fake, our_client_id), our_client_id))[0]
        == 200
    )
    client.logout()
    settings.ACCOUNT_SIGNUP_ENABLED = False
    fake.reset_log()
    status, payload = provider_token(
        client, token_body(client_side_flow(fake, our_client_id), our_client_id)
    )
    assert status == 200, payload
    assert len(refresh_grants(fake)) == 1
    assert User.objects.count() == 1


def test_sign_up_that_depends_on_who_signs_up_is_decided_before_the_spend(
    client, fake, settings, token_auth, our_client_id
):
    settings.SOCIALACCOUNT_ADAPTER = f"{__name__}.OnlyOurDomainAdapter"
    outsider = client_side_flow(fake, our_client_id)  # ada@example.com
    fake.reset_log()
    status, _ = provider_token(client, token_body(outsider, our_client_id))
    assert status == 403 and refresh_grants(fake) == [] and nothing_created()
    assert still_works(fake, outsider, our_client_id)

    fake.current_user = fake.add_user(mail="grace@example.org", name="Grace Hopper")
    insider = client_side_flow(fake, our_client_id)
    status, payload = provider_token(client, token_body(insider, our_client_id))
    assert status == 200, payload
    assert User.objects.get().email == "grace@example.org"


def test_an_app_without_its_secret_spends_nothing(
    client, fake, settings, token_auth, our_client_id
):
    providers = dict(settings.SOCIALACCOUNT_PROVIDERS)
    providers["podio"] = {**providers["podio"], "APP": {"client_id": our_client_id, "secret": ""}}
    settings.SOCIALACCOUNT_PROVIDERS = providers
    fragment = client_side_flow(fake, our_client_id)
    fake.reset_log()
    browser = Client(raise_request_exception=False)
    response = browser.post(
        "/_allauth/browser/v1/auth/provider/token",
        data=json.dumps(token_body(fragment, our_client_id)),
        content_type="application/json",
    )
    assert response.status_code == 500
    assert fake.requests == []
    assert still_works(fake, fragment, our_client_id)


# What can only fail after the spend keeps the new pair ---------------------------------------


def test_a_failure_after_the_spend_keeps_the_pair_for_the_retry(
    client, fake, token_auth, our_client_id
):
    """The database fails while the login is stored: 500. The same request again completes
    the login with the pair bound the first time, without asking Podio for another one."""
    from ..reports import database_fails

    fragment = client_side_flow(fake, our_client_id)
    body = token_body(fragment, our_client_id)
    browser = Client(raise_request_exception=False)
    fake.reset_log()
    with database_fails("django_podio_podioconnection"):
        assert post_json(browser, body).status_code == 500
    assert len(refresh_grants(fake)) == 1  # spent: the browser's refresh token is dead now
    assert not still_works(fake, fragment, our_client_id)

    fake.reset_log()
    retry = post_json(browser, body)
    assert retry.status_code == 200, retry.content[:300]
    assert refresh_grants(fake) == []  # the kept pair, not a second grant
    connection = PodioConnection.objects.get()
    assert get_client(connection.user).get("/user/status")["user"]["mail"] == "ada@example.com"
    # Stored: the kept pair is forgotten, the request is single-use again.
    browser.logout()
    status, payload = provider_token(browser, body)
    assert status == 400 and error_codes(payload) == ["invalid_token"], payload


def post_json(browser, body: dict, kind: str = "browser"):
    return browser.post(
        f"/_allauth/{kind}/v1/auth/provider/token",
        data=json.dumps(body),
        content_type="application/json",
    )


def test_connect_that_needs_reauthentication_spends_nothing(
    client, fake, settings, token_auth, our_client_id
):
    """allauth asks a user who signed in a while ago to reauthenticate before connecting."""
    settings.SOCIALACCOUNT_REAUTHENTICATION_REQUIRED = True
    grace = User.objects.create_user("grace", "grace@example.org", "pw-123456")
    client.force_login(grace)  # no recent authentication recorded
    fragment = client_side_flow(fake, our_client_id)
    fake.reset_log()
    response = post_json(client, token_body(fragment, our_client_id, process="connect"))
    assert response.status_code == 401, response.content[:300]
    assert fake.requests == []
    assert not SocialAccount.objects.exists()
    assert still_works(fake, fragment, our_client_id)


def test_a_kept_answer_without_access_token_is_spent_on_the_retry(
    client, fake, token_auth, our_client_id
):
    """The first grant answered without an access token, the second failed: the retry spends
    the kept refresh token (not the browser's, which is dead) and signs in."""
    answers = []

    def first_without_access_token(body):
        answers.append(body)
        if len(answers) == 1:
            body.pop("access_token")
            # The next token request (the second grant) fails before Podio spends anything.
            fake.add_fault("500", path="/oauth/token", count=1)
        return body

    fake.token_answer = first_without_access_token
    fragment = client_side_flow(fake, our_client_id)
    body = token_body(fragment, our_client_id)
    status, payload = provider_token(client, body)
    assert status == 400 and error_codes(payload) == ["invalid_token"], payload
    assert len(answers) == 1 and nothing_created()
    assert not still_works(fake, fragment, our_client_id)  # the browser's token is spent

    status, payload = provider_token(client, body)
    assert status == 200, payload
    assert len(answers) == 2  # one more grant: the kept refresh token, spent now
    assert PodioConnection.objects.get().refresh_token == answers[-1]["refresh_token"]


def test_the_refusal_speaks_the_browsers_language(
    client, fake, token_auth, our_client_id, settings
):
    """A host with LocaleMiddleware: a Danish browser reads our refusal in Danish."""
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[:1],
        "django.middleware.locale.LocaleMiddleware",
        *settings.MIDDLEWARE[1:],
    ]
    fragment = client_side_flow(fake, our_client_id)
    body = token_body({**fragment, "refresh_token": None}, our_client_id)

    # LocaleMiddleware leaves its language active in the thread: put the test's back after.
    with translation.override("en"):
        english = str(MISSING_REFRESH_MESSAGE)
        response = client.post(
            "/_allauth/browser/v1/auth/provider/token",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_ACCEPT_LANGUAGE="da",
        )

    assert response.status_code == 400
    message = response.json()["errors"][0]["message"]
    assert message.startswith("Et Podio-tokenlogin kræver det refresh_token"), message
    assert english.startswith("A Podio token login needs")
    assert nothing_created()
