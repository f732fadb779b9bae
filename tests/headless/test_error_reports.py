"""No token in Django's error reports when a headless token login fails unexpectedly.

The DEBUG page and the admins' HTML mail print every frame's locals; the token login's frames
(allauth's input, our ``verify_token``) held the browser's tokens and the new pair.
"""

from __future__ import annotations

import json
import logging

import pytest
from allauth.account.signals import user_signed_up
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.core import mail
from django.test import Client

from ..scan import find_leaks
from ..security.test_error_reports import admin_mail, html_report_mail, leak_context  # noqa: F401
from .conftest import client_side_flow, token_body

pytestmark = pytest.mark.django_db


def post_token(browser: Client, body: dict):
    return browser.post(
        "/_allauth/browser/v1/auth/provider/token",
        data=json.dumps(body),
        content_type="application/json",
    )


def test_a_headless_login_that_fails_unexpectedly_shows_no_token(
    fake,
    settings,
    token_auth,
    our_client_id,
    admin_mail,  # noqa: F811
):
    def broken_receiver(**kwargs):
        raise RuntimeError("the host's sign-up hook failed")

    user_signed_up.connect(broken_receiver, dispatch_uid="broken-headless", weak=False)
    try:
        browser = Client(raise_request_exception=False)
        settings.DEBUG = True
        fragment = client_side_flow(fake, our_client_id)
        response = post_token(browser, token_body(fragment, our_client_id))
        assert response.status_code == 500
        page = response.content.decode()
        assert "Local vars" in page and "broken_receiver" in page
        settings.DEBUG = False
        mail.outbox.clear()
        fake.current_user = fake.add_user(mail="grace@example.com", name="Grace")  # a sign-up
        fragment = client_side_flow(fake, our_client_id)
        assert post_token(browser, token_body(fragment, our_client_id)).status_code == 500
        report = html_report_mail()
    finally:
        user_signed_up.disconnect(dispatch_uid="broken-headless")
    secrets = fake.issued_secrets()
    leaks = find_leaks(secrets, debug_page=page, admin_mail=report)
    assert leaks == {}, leak_context(secrets, page + report)


class BrokenAdapter(DefaultSocialAccountAdapter):
    """A host's adapter with a bug: it fails while allauth builds the login from the profile."""

    def populate_user(self, request, sociallogin, data):
        raise RuntimeError("the host's adapter failed")


@pytest.mark.usefixtures("admin_mail")
def test_a_failure_inside_verify_token_is_a_refusal_not_an_error_report(
    fake, settings, token_auth, our_client_id, caplog
):
    """allauth's frames hold the posted access token: a 500 there would print it.

    So an unexpected error while the login is built (here a host's adapter with a bug) is
    logged with its traceback (frames' code, no locals) and answered as ``invalid_token``.
    """
    settings.SOCIALACCOUNT_ADAPTER = f"{__name__}.BrokenAdapter"
    settings.DEBUG = True
    caplog.set_level(logging.DEBUG)
    browser = Client(raise_request_exception=False)
    fragment = client_side_flow(fake, our_client_id)

    response = post_token(browser, token_body(fragment, our_client_id))

    assert response.status_code == 400
    assert [e["code"] for e in response.json()["errors"]] == ["invalid_token"]
    # No error report with frames: at most django.request's "Bad Request" line.
    mailed = "\n".join(
        m.subject + m.body + "".join(content for content, _ in m.alternatives) for m in mail.outbox
    )
    assert "RuntimeError" not in mailed and "verify_token" not in mailed
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "failed unexpectedly" in logged and "the host's adapter failed" in logged
    assert "populate_user" in logged  # the traceback, for the host to fix its bug
    leaks = find_leaks(
        fake.issued_secrets(), logs=logged, mail=mailed, answer=response.content.decode()
    )
    assert leaks == {}
