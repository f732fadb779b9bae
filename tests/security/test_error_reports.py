"""No token in Django's error reports: the DEBUG 500 page and the HTML mail to the admins.

Both render every frame's local variables. ``sensitive_variables`` is honoured only when
``DEBUG`` is off, so the DEBUG page is safe only if no frame that can reach it holds a token.
Each view below fails in a different place: after a successful call, inside a call Podio
refuses, inside a call whose token expired and is refreshed, and on an unexpected bug deep in
the transport.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from django.core import mail
from django.http import HttpResponse
from django.test import Client
from django.urls import include, path
from django.utils import timezone
from django.utils.log import AdminEmailHandler

from django_podio import get_client
from django_podio.api.client import PodioClient
from django_podio.models import PodioConnection

from ..conftest import login_with_podio
from ..scan import find_leaks

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

STATE: dict = {}


def fails_after_a_call(request):
    client = get_client(request.user)
    client.get("/user/status")
    raise RuntimeError("the view failed after talking to Podio")


def fails_in_a_call(request):
    client = get_client(request.user)
    STATE["fake"].add_fault("500", path="/user/status", count=10)
    client.get("/user/status")
    return HttpResponse("unreachable")


def fails_after_a_refresh(request):
    client = get_client(request.user)
    STATE["fake"].expire_access_tokens()
    STATE["fake"].add_fault("500", path="/user/status", count=10)
    client.get("/user/status")  # 401 -> refresh -> replay -> 500
    return HttpResponse("unreachable")


def fails_in_the_refresh(request):
    client = get_client(request.user)
    STATE["fake"].expire_access_tokens()
    STATE["fake"].add_fault("500", path="/oauth/token", count=1)
    client.get("/user/status")  # 401 -> the refresh itself fails
    return HttpResponse("unreachable")


def fails_in_get_client_s_refresh(request):
    PodioConnection.objects.update(expires_at=timezone.now())  # due: get_client refreshes
    STATE["fake"].add_fault("500", path="/oauth/token", count=1)
    get_client(request.user)
    return HttpResponse("unreachable")


def fails_as_reauthorization_required(request):
    PodioConnection.objects.update(expires_at=timezone.now())
    STATE["fake"].revoke_refresh_tokens()
    get_client(request.user)  # ReauthorizationRequired from Podio's invalid_grant
    return HttpResponse("unreachable")


def fails_to_decrypt_during_a_refresh(request):
    from cryptography.fernet import Fernet
    from django.test import override_settings

    client = get_client(request.user)
    STATE["fake"].expire_access_tokens()
    with override_settings(FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode()):
        client.get("/user/status")  # 401 -> refresh -> the stored pair cannot be read
    return HttpResponse("unreachable")


def fails_as_reauthorization_required_in_a_call(request):
    client = get_client(request.user)
    STATE["fake"].expire_access_tokens()
    STATE["fake"].revoke_refresh_tokens()
    client.get("/user/status")  # 401 -> refresh -> invalid_grant -> ReauthorizationRequired
    return HttpResponse("unreachable")


def fails_on_a_bug_in_the_transport(request):
    client = get_client(request.user)
    client.post("/item/app/1/", json={"bad": object()})  # not JSON: fails inside requests
    return HttpResponse("unreachable")


def write_fails(request):
    client = get_client(request.user)
    STATE["fake"].add_fault("500", path="/item/app", count=1)
    client.post("/item/app/1/", {"fields": {"title": "x"}})
    return HttpResponse("unreachable")


def typed_write_after_a_refresh_lost(request):
    client = get_client(request.user)
    app_id = STATE["fake"].add_app().app_id  # (a FakeApp's repr shows its app token)
    STATE["fake"].expire_access_tokens()
    STATE["fake"].add_fault("drop_after", path=f"/item/app/{app_id}/", method="POST")
    client.create_item(app_id, {"title": "x"})  # 401 -> refresh -> replay -> answer lost
    return HttpResponse("unreachable")


def typed_write_invalid_value(request):
    client = get_client(request.user)
    app_id = STATE["fake"].add_app().app_id
    client.create_item(app_id, {"progress": 900})  # InvalidFieldValue, nothing sent
    return HttpResponse("unreachable")


def typed_write_conflict(request):
    client = get_client(request.user)
    app_id = STATE["fake"].add_app().app_id
    item_id = client.create_item(app_id, {"title": "a"})["item_id"]
    STATE["fake"].update_item(item_id, {"title": "b"})
    client.update_item(item_id, {"title": "c"}, revision=0)  # Conflict
    return HttpResponse("unreachable")


VIEWS = {
    "after": fails_after_a_call,
    "call": fails_in_a_call,
    "after_refresh": fails_after_a_refresh,
    "refresh": fails_in_the_refresh,
    "get_client": fails_in_get_client_s_refresh,
    "reauth": fails_as_reauthorization_required,
    "decrypt": fails_to_decrypt_during_a_refresh,
    "reauth_in_call": fails_as_reauthorization_required_in_a_call,
    "bug": fails_on_a_bug_in_the_transport,
    "write": write_fails,
    "typed_write": typed_write_after_a_refresh_lost,
    "invalid_value": typed_write_invalid_value,
    "conflict": typed_write_conflict,
}

urlpatterns = [
    path("accounts/", include("allauth.urls")),
    *(path(f"fail/{name}/", view) for name, view in VIEWS.items()),
]


@pytest.fixture
def logged_in(client, fake, podio_settings):
    podio_settings(MAX_RETRIES=0)
    STATE["fake"] = fake
    assert login_with_podio(client).status_code == 302
    assert PodioConnection.objects.count() == 1
    yield client
    STATE.clear()


@pytest.fixture
def admin_mail(settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    handler = AdminEmailHandler(include_html=True)
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    yield
    logger.removeHandler(handler)


def html_report_mail() -> str:
    # Django's own mail_admins handler sends a plain-text copy; ours adds the HTML report.
    with_html = [m for m in mail.outbox if m.alternatives]
    assert len(with_html) == 1, [m.subject for m in mail.outbox]
    message = with_html[0]
    html = [content for content, kind in message.alternatives if kind == "text/html"]
    assert html and "Local Vars" in html[0], "the mail carries the HTML report with locals"
    return "\n".join(m.subject + m.body for m in mail.outbox) + html[0]


def leak_context(secrets: set[str], text: str) -> list[str]:
    """Where each leaked secret sits (the frame's function and the variable), for the failure."""
    import re

    found = []
    for secret in secrets:
        at = text.find(secret)
        if at >= 0:
            before = text[max(0, at - 3000) : at]
            frames = re.findall(r", line \d+, in (\w+)", before)
            names = re.findall(r"<td>([A-Za-z_]+)</td>", before)
            found.append(f"{frames[-1] if frames else '?'} variable {names[-1] if names else '?'}")
    return sorted(set(found))


@pytest.mark.parametrize("name", VIEWS)
def test_debug_page_and_admin_mail_show_no_secret(
    name, logged_in, fake, settings, admin_mail, tracker
):
    browser = Client(raise_request_exception=False)
    browser.cookies = logged_in.cookies

    settings.DEBUG = True
    debug_page = browser.get(f"/fail/{name}/")
    assert debug_page.status_code == 500
    page = debug_page.content.decode()
    assert "Traceback" in page and "Local vars" in page  # the technical page, with locals

    settings.DEBUG = False
    mail.outbox.clear()
    assert browser.get(f"/fail/{name}/").status_code == 500
    report = html_report_mail()

    secrets = fake.issued_secrets()
    assert len(secrets) >= 4
    leaks = find_leaks(secrets, debug_page=page, admin_mail=report, tracker=tracker.text())
    assert leaks == {}, leak_context(secrets, page + report)


def test_the_scan_would_see_a_token_in_the_locals(logged_in, fake, settings):
    """The page does render locals: a token in a view's own variable is found by the scan."""
    from django.test import RequestFactory
    from django.views.debug import technical_500_response

    connection = PodioConnection.objects.get()
    token = connection.access_token
    try:
        PodioClient(token, api_url=fake.url).get("/no/such/route")
    except Exception as error:
        import sys

        settings.DEBUG = True
        response = technical_500_response(
            RequestFactory().get("/"), type(error), error, sys.exc_info()[2]
        )
    assert find_leaks(fake.issued_secrets(), page=response.content.decode()) != {}


def test_a_login_that_fails_unexpectedly_shows_no_token(client, fake, settings, admin_mail):
    """A host's receiver raises during sign-up: a 500 in the middle of allauth's callback.

    The authorization code is in the callback's URL, which Django's reports print as is; it
    is single-use and already spent by then. Tokens and the client secret must not appear.
    """
    from allauth.account.signals import user_signed_up

    def broken_receiver(**kwargs):
        raise RuntimeError("the host's sign-up hook failed")

    user_signed_up.connect(broken_receiver, dispatch_uid="broken", weak=False)
    try:
        browser = Client(raise_request_exception=False)
        settings.DEBUG = True
        response = login_with_podio(browser)
        assert response.status_code == 500
        page = response.content.decode()
        assert "Local vars" in page
        settings.DEBUG = False
        mail.outbox.clear()
        fake.current_user = fake.add_user(mail="grace@example.com", name="Grace")  # a sign-up
        assert login_with_podio(browser).status_code == 500
        report = html_report_mail()
    finally:
        user_signed_up.disconnect(dispatch_uid="broken")
    secrets = fake.issued_secrets() - set(fake.codes)
    leaks = find_leaks(secrets, debug_page=page, admin_mail=report)
    assert leaks == {}, leak_context(secrets, page + report)


# The webhook view -----------------------------------------------------------------------------
#
# Its URL holds the hook's secret and a hook.verify delivery posts a code: neither may reach the
# django.request log line (the admins' mail subject), the DEBUG page, the mail's body or a
# tracker, whatever fails while the delivery is received or processed after the response.

HOOK_URLS = [path("podio/", include("django_podio.urls"))]
urlpatterns += HOOK_URLS


@pytest.fixture
def verify_delivery(fake, podio_settings):
    """A registered hook and the ``hook.verify`` Podio sent it, ready to post ourselves."""
    from urllib.parse import urlencode

    from django_podio import tokens
    from django_podio.hooks.secret import digest, new_secret
    from django_podio.models import PodioHook

    podio_settings(MAX_RETRIES=0)
    app = fake.add_app(name="Projects")
    connection = tokens.store_app_connection(app.app_id, app.app_token)
    secret = new_secret()
    fake.hold_deliveries()  # we post the delivery ourselves, with the test client
    remote = fake.create_hook("app", app.app_id, f"http://testserver/h/{secret}/", "item.update")
    PodioHook.objects.create(
        hook_id=remote.hook_id,
        app_id=app.app_id,
        event_type="item.update",
        secret_hash=digest(secret),
        connection=connection,
        status=PodioHook.Status.PENDING,
    )

    def post(browser):
        # Each post carries a fresh code, as Podio's repeated hook.verify would.
        fake.request_hook_verification(remote.hook_id)
        form = {"type": "hook.verify", "hook_id": str(remote.hook_id), "code": remote.code}
        return browser.post(
            f"/podio/hooks/{secret}/",
            urlencode(form),
            content_type="application/x-www-form-urlencoded",
        )

    return SimpleNamespace(post=post, secret=secret, fake=fake)


def hook_secrets(delivery) -> set[str]:
    return delivery.fake.issued_secrets() | {delivery.secret}


def test_a_database_outage_at_the_hook_lookup_shows_no_secret(
    verify_delivery, settings, admin_mail, tracker
):
    from ..reports import database_fails, mailed

    browser = Client(raise_request_exception=False)

    def send():
        with database_fails("django_podio_podiohook", verbs=("SELECT",)):
            return verify_delivery.post(browser)

    settings.DEBUG = True
    page = send().content.decode()
    assert "find_hook" in page and "Local vars" in page  # the failure is at the lookup
    settings.DEBUG = False
    mail.outbox.clear()
    assert send().status_code == 500
    mails = mailed()
    logged = "\n".join(tracker.lines)
    assert "Internal Server Error: /podio/hooks/" in logged  # django.request still reports
    assert mail.outbox and "Internal Server Error" in mail.outbox[-1].subject
    from ..reports import assert_no_leak

    assert_no_leak(
        hook_secrets(verify_delivery),
        debug_page=page,
        admin_mail=mails,
        log=logged,
        tracker=tracker.text(),
    )


def test_a_database_outage_while_a_delivery_is_stored_shows_no_secret(
    verify_delivery, settings, admin_mail, tracker
):
    from ..reports import assert_no_leak, database_fails, mailed

    browser = Client(raise_request_exception=False)
    with database_fails("django_podio_podiohookevent", verbs=("INSERT",)):
        response = verify_delivery.post(browser)
    assert response.status_code == 500  # Podio retries
    assert tracker.events, "the failure was logged with its traceback"
    assert_no_leak(
        hook_secrets(verify_delivery),
        admin_mail=mailed(),
        log="\n".join(tracker.lines),
        tracker=tracker.text(),
    )


def test_a_bug_while_a_delivery_is_processed_after_the_response_shows_no_secret(
    verify_delivery, settings, podio_settings, admin_mail, tracker, fake
):
    """hook.verify is validated after the 202 with the code in the request's JSON: an
    unexpected exception inside that call (here Podio's answer is too deep to parse) is logged,
    and the code must not be in what the log or a tracker records."""
    from ..reports import assert_no_leak, mailed
    from ..scripted import scripted, too_deep_json

    browser = Client(raise_request_exception=False)
    with scripted(too_deep_json()) as api:
        podio_settings(API_URL=api.url)
        response = verify_delivery.post(browser)
        podio_settings(API_URL=fake.url)
    assert response.status_code == 202
    logged = "\n".join(tracker.lines)
    assert "RecursionError" in logged or "RecursionError" in tracker.text()
    assert_no_leak(
        hook_secrets(verify_delivery), admin_mail=mailed(), log=logged, tracker=tracker.text()
    )


# The redirect login (authorization code) ------------------------------------------------------

REDIRECT_CASES = {
    # Inside the code exchange: client secret and code in the token request's frames.
    "bug_in_the_code_exchange": "RecursionError",
    # After it: the new pair exists, not yet stored or sealed by the receivers.
    "account_lookup_database_down": "_lookup_by_socialaccount",
    "store_database_down": "_capture",
    "encryption_key_broken": "ImproperlyConfigured",
    "host_receiver_bug": "broken_receiver",
}


def broken_receiver(**kwargs):
    raise RuntimeError("the host's sign-up hook failed")


@pytest.mark.parametrize("case", list(REDIRECT_CASES))
def test_no_secret_in_any_report_of_a_failed_redirect_login(
    case, fake, settings, podio_settings, admin_mail, tracker
):
    from contextlib import ExitStack, nullcontext

    from allauth.account.signals import user_signed_up

    from ..reports import assert_no_leak, database_fails, mailed
    from ..scripted import scripted, too_deep_json

    around = nullcontext
    with ExitStack() as stack:
        if case == "bug_in_the_code_exchange":
            server = stack.enter_context(scripted(too_deep_json()))
            podio_settings(TOKEN_URL=server.url + "/oauth/token")
        elif case == "account_lookup_database_down":
            around = lambda: database_fails("socialaccount_socialaccount")  # noqa: E731
        elif case == "store_database_down":
            around = lambda: database_fails("django_podio_podioconnection")  # noqa: E731
        elif case == "encryption_key_broken":
            settings.FIELD_ENCRYPTION_KEY = "not-a-fernet-key"
        else:
            user_signed_up.connect(broken_receiver, dispatch_uid="broken-redirect", weak=False)
            stack.callback(user_signed_up.disconnect, dispatch_uid="broken-redirect")
        attempts = []

        def send():
            # A Podio user new to the site each time: every attempt is a sign-up.
            attempts.append(1)
            fake.current_user = fake.add_user(mail=f"user{len(attempts)}@example.com")
            browser = Client(raise_request_exception=False)
            with around():
                return login_with_podio(browser)

        settings.DEBUG = True
        page = send().content.decode()
        settings.DEBUG = False
        mail.outbox.clear()
        response = send()
    assert response.status_code == 500
    assert "Local vars" in page and REDIRECT_CASES[case] in page
    # The callback's ?code= is in its URL (spent by then): every other secret is looked for.
    secrets = fake.issued_secrets() - set(fake.codes)
    secrets |= {settings.SOCIALACCOUNT_PROVIDERS["podio"]["APP"]["secret"]}
    assert_no_leak(secrets, debug_page=page, admin_mail=mailed(), tracker=tracker.text())
