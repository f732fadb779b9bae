"""Login CSRF: the flow starts only on a POST with a CSRF token, and only our state counts."""

from __future__ import annotations

import pytest
from allauth.socialaccount.models import SocialAccount
from django.test import Client
from django.urls import reverse

from ..conftest import authorize, callback_path, start_login

pytestmark = pytest.mark.django_db


def test_post_without_csrf_token_is_refused(fake):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(reverse("podio_login"))
    assert response.status_code == 403
    assert fake.requests_to("/oauth/") == []


def test_post_with_csrf_token_starts_the_flow(fake):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(reverse("podio_login"))
    token = page.cookies["csrftoken"].value
    response = browser.post(reverse("podio_login"), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert response["Location"].startswith(fake.authorize_url)
    assert "state=" in response["Location"]


def test_a_callback_from_another_browser_session_is_refused(client, fake):
    """Login CSRF: an attacker's own callback URL pushed into the victim's browser."""
    attacker = Client()
    attacker_callback = authorize(start_login(attacker))
    response = client.get(callback_path(attacker_callback))
    assert response.status_code == 401
    assert SocialAccount.objects.count() == 0
    assert fake.requests_to("/oauth/token") == []


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/steal", "//evil.example/", "http://testserver.evil/"]
)
def test_open_redirect_through_next_is_refused(client, fake, next_url):
    callback = authorize(start_login(client, next=next_url))
    response = client.get(callback_path(callback))
    assert response.status_code == 302
    assert "evil" not in response["Location"]
    assert response["Location"] == "/"


def test_safe_next_is_honoured(client, fake):
    callback = authorize(start_login(client, next="/somewhere/"))
    response = client.get(callback_path(callback))
    assert response["Location"] == "/somewhere/"
