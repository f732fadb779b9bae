"""No posted or issued token in any error report of a headless token login, whatever fails.

Each case makes one real thing fail at one point of the login (before allauth reaches our
``verify_token``, before the spend, inside it, after it, while the login is stored), renders
the three reports (DEBUG page, HTML admin mail, a tracker's frame variables; see
``tests/reports.py``) and scans them, the log lines and the answer for every secret the fake
issued: the browser's pair, the new pair, our client secret.

Known leaks this closes: allauth's ``handle_input`` held the posted body (``data``) and
``ProviderTokenInput.clean`` the access token (``access_token``) in their locals, so a
``SocialApp`` row that could not be read or a rate-limit cache that was down printed them.
"""

from __future__ import annotations

import json

import pytest
from allauth.account.signals import user_signed_up
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.test import Client

from ..reports import DOWN_CACHE, assert_no_leak, database_fails, render_both
from ..scripted import scripted, too_deep_json
from .conftest import client_side_flow, token_body

pytestmark = pytest.mark.django_db


def post_token(browser: Client, body: dict, kind: str = "browser"):
    return browser.post(
        f"/_allauth/{kind}/v1/auth/provider/token",
        data=json.dumps(body),
        content_type="application/json",
    )


class BrokenAdapter(DefaultSocialAccountAdapter):
    """A host's adapter with a bug: it fails while allauth builds the login from the profile."""

    def populate_user(self, request, sociallogin, data):
        raise RuntimeError("the host's adapter failed")


class SignUpClosedAdapter(DefaultSocialAccountAdapter):
    """Sign-up closed (every allauth version; ``ACCOUNT_SIGNUP_ENABLED`` came with 65.22)."""

    def is_open_for_signup(self, request, sociallogin):
        return False


def broken_receiver(**kwargs):
    raise RuntimeError("the host's sign-up hook failed")


# name -> (what the DEBUG page must show to prove the failure came from there, status)
CASES = {
    # Before allauth calls verify_token: the posted body is all there is.
    "app_row_unreadable": ("list_apps", 500),
    # Inside verify_token, before Podio is asked: the browser's tokens are posted.
    "rate_limit_cache_down": ("consume_or_429", 500),
    "sign_up_check_database_down": ("_refuse_if_sign_up_closed", 500),
    # Inside the spend: client secret and refresh token in the token request's frames.
    "bug_in_the_token_request": ("RecursionError", 500),
    # After the spend: the new pair exists.
    "bug_in_the_profile_request": ("RecursionError", 500),
    "encryption_key_broken": ("ImproperlyConfigured", 500),
    "host_adapter_bug": ("the host&#x27;s adapter failed", 500),
    "account_lookup_database_down": ("_lookup_by_socialaccount", 500),
    "store_database_down": ("_capture", 500),
    "host_receiver_bug": ("broken_receiver", 500),
    "session_database_down": ("django_session", 500),
}


@pytest.fixture
def failure(request, settings, podio_settings, monkeypatch):
    """Arrange the case's failure; returns a context manager to wrap each request in."""
    from contextlib import ExitStack, contextmanager

    name = request.param
    stack = ExitStack()
    if name == "app_row_unreadable":
        wrap = lambda: database_fails("socialaccount_socialapp")  # noqa: E731
    elif name == "rate_limit_cache_down":
        settings.CACHES = DOWN_CACHE
        wrap = None
    elif name == "sign_up_check_database_down":
        settings.SOCIALACCOUNT_ADAPTER = f"{__name__}.SignUpClosedAdapter"
        wrap = lambda: database_fails("socialaccount_socialaccount")  # noqa: E731
    elif name == "bug_in_the_token_request":
        server = stack.enter_context(scripted(too_deep_json()))
        podio_settings(TOKEN_URL=server.url + "/oauth/token")
        wrap = None
    elif name == "bug_in_the_profile_request":
        wrap = None
    elif name == "encryption_key_broken":
        settings.FIELD_ENCRYPTION_KEY = "not-a-fernet-key"
        wrap = None
    elif name == "host_adapter_bug":
        settings.SOCIALACCOUNT_ADAPTER = f"{__name__}.BrokenAdapter"
        wrap = None
    elif name == "account_lookup_database_down":
        wrap = lambda: database_fails("socialaccount_socialaccount")  # noqa: E731
    elif name == "store_database_down":
        wrap = lambda: database_fails("django_podio_podioconnection")  # noqa: E731
    elif name == "host_receiver_bug":
        user_signed_up.connect(broken_receiver, dispatch_uid="broken-headless", weak=False)
        stack.callback(user_signed_up.disconnect, dispatch_uid="broken-headless")
        wrap = None
    elif name == "session_database_down":
        wrap = lambda: database_fails("django_session", verbs=("INSERT", "UPDATE"))  # noqa: E731
    else:
        raise AssertionError(name)

    @contextmanager
    def around():
        if name == "bug_in_the_profile_request":
            # The token endpoint is the fake's; the API (the profile) answers too deep JSON.
            with scripted(too_deep_json()) as api:
                podio_settings(API_URL=api.url)
                try:
                    yield
                finally:
                    podio_settings(API_URL=request.getfixturevalue("fake").url)
            return
        if wrap is None:
            yield
        else:
            with wrap():
                yield

    with stack:
        yield name, around


@pytest.mark.parametrize(
    ("failure", "kind"),
    [(name, "browser") for name in CASES]
    # The app API (mobile front ends) goes through the same view with its own session.
    + [(name, "app") for name in ("app_row_unreadable", "rate_limit_cache_down")]
    + [("store_database_down", "app")],
    indirect=["failure"],
)
def test_no_secret_in_any_report_of_a_failed_token_login(
    failure,
    kind,
    fake,
    settings,
    token_auth,
    our_client_id,
    admin_mail,
    tracker,
):
    name, around = failure
    shown, status = CASES[name]
    browser = Client(raise_request_exception=False)
    fragments = []

    def send():
        # A Podio user new to the site each time: every attempt is a sign-up.
        number = len(fragments) + 1
        fake.current_user = fake.add_user(mail=f"user{number}@example.com", name=f"User {number}")
        fragment = client_side_flow(fake, our_client_id)
        fragments.append(fragment)
        with around():
            return post_token(browser, token_body(fragment, our_client_id), kind)

    response, page, mails = render_both(settings, send)

    assert response.status_code == status, response.content[:500]
    assert "Traceback" in page and "Local vars" in page, page[:500]
    assert shown in page, f"the failure did not happen where {name} means it to"
    assert "Local Vars" in mails, "the admins' mail carries the HTML report with locals"
    assert tracker.events, "the tracker recorded the exception"
    secrets = fake.issued_secrets() | {settings.SOCIALACCOUNT_PROVIDERS["podio"]["APP"]["secret"]}
    assert all(f["refresh_token"] in secrets for f in fragments)
    assert_no_leak(
        secrets,
        debug_page=page,
        admin_mail=mails,
        tracker=tracker.text(),
        answer=response.content.decode(errors="replace"),
    )


def test_the_posted_tokens_are_masked_before_allauth_holds_them(
    fake,
    token_auth,
    our_client_id,
    settings,
    tracker,
):
    """The mechanism itself: a failure right after allauth parsed the body finds placeholders.

    allauth's frames (``handle_input``'s ``data``, ``clean``'s ``token``/``access_token``)
    and the request's body as a tracker would attach it hold ``********``, never the tokens.
    """
    browser = Client(raise_request_exception=False)
    fragment = client_side_flow(fake, our_client_id)
    with database_fails("socialaccount_socialapp"):
        response = post_token(browser, token_body(fragment, our_client_id))
    assert response.status_code == 500
    recorded = tracker.text()
    assert "handle_input:" in recorded and "data = {provider: podio" in recorded
    assert "access_token: ********" in recorded
    assert "refresh_token: ********" in recorded
    assert fragment["access_token"] not in recorded
    assert fragment["refresh_token"] not in recorded
    # Nothing was spent: the browser's refresh token still works at Podio.
    from .conftest import refresh_at_podio

    assert refresh_at_podio(fake, fragment["refresh_token"], our_client_id, fake.client_secret).ok


def test_the_scan_would_see_a_token_left_in_allauth_s_frames(
    fake,
    token_auth,
    our_client_id,
    settings,
    tracker,
):
    """Without the masking (``_parse_json`` not overridden), the same failure leaks: the test
    above can fail."""
    from allauth.headless.internal.restkit.views import RESTView
    from allauth.headless.socialaccount.views import ProviderTokenView

    ours = ProviderTokenView.__dict__["_parse_json"]
    ProviderTokenView._parse_json = RESTView._parse_json
    try:
        browser = Client(raise_request_exception=False)
        fragment = client_side_flow(fake, our_client_id)
        with database_fails("socialaccount_socialapp"):
            assert post_token(browser, token_body(fragment, our_client_id)).status_code == 500
    finally:
        ProviderTokenView._parse_json = ours
    assert fragment["refresh_token"] in tracker.text()
