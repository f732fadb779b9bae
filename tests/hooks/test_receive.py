"""The receiving view as an attacker and an unlucky sender see it (Django's test client)."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from django_podio.hooks.secret import digest, new_secret
from django_podio.models import PodioHook, PodioHookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(fake):
    secret = new_secret()
    row = PodioHook.objects.create(
        hook_id=4242,
        app_id=1,
        event_type="item.update",
        secret_hash=digest(secret),
        status=PodioHook.Status.ACTIVE,
    )
    row.secret = secret
    return row


def url(secret: str) -> str:
    return reverse("django_podio:hook", kwargs={"secret": secret})


FORM = {"type": "item.update", "hook_id": "4242", "item_id": "7", "item_revision_id": "70"}


def nothing_happened(fake) -> bool:
    return PodioHookEvent.objects.count() == 0 and fake.requests == []


@pytest.mark.parametrize(
    "secret",
    [
        "A" * 32,  # right shape, wrong secret
        "short",
        "x" * 200,
        "%00" * 11,
    ],
)
def test_forged_secret_is_a_404_and_stores_nothing(client, fake, hook, secret, caplog):
    caplog.set_level(logging.DEBUG)
    fake.reset_log()
    response = client.post(f"/podio/hooks/{secret}/", FORM)
    assert response.status_code == 404
    assert nothing_happened(fake)


def test_missing_secret_is_a_404(client, fake, hook):
    fake.reset_log()
    assert client.post("/podio/hooks/", FORM).status_code == 404
    assert client.post("/podio/hooks//", FORM).status_code == 404
    assert nothing_happened(fake)


def test_secret_of_another_hook_digest_does_not_work(client, fake, hook):
    """The digest stored in the database is not a key: knowing it opens nothing."""
    fake.reset_log()
    assert client.post(url(hook.secret_hash[:32]), FORM).status_code == 404
    assert nothing_happened(fake)


def test_wrong_method_or_content_type(client, fake, hook):
    fake.reset_log()
    assert client.get(url(hook.secret)).status_code == 405
    assert client.put(url(hook.secret), "type=item.update").status_code == 405
    response = client.post(url(hook.secret), FORM, content_type="application/json")
    assert response.status_code == 415
    response = client.post(url(hook.secret), FORM)  # multipart: not what Podio sends
    assert response.status_code == 415
    assert nothing_happened(fake)


def form(data: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(data)


def test_oversized_body_is_a_413(client, fake, hook):
    fake.reset_log()
    body = form({**FORM, "padding": "x" * 20_000})
    response = client.generic(
        "POST", url(hook.secret), body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413
    assert nothing_happened(fake)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"hook_id": "4242", "item_id": "7"}, "No event type"),
        ({"type": "item.update", "item_id": "7"}, "No hook_id"),
        ({"type": "item.update", "hook_id": "999", "item_id": "7"}, "Wrong hook_id"),
        ({"type": "item.update", "hook_id": "4242"}, "No item_id"),
        ({"type": "item.update", "hook_id": "4242", "item_id": "x"}, "No item_id"),
        ({"type": "hook.verify", "hook_id": "4242"}, "No code"),
    ],
)
def test_malformed_deliveries_are_a_400(client, fake, hook, data, reason):
    fake.reset_log()
    response = client.generic(
        "POST", url(hook.secret), form(data), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400 and response.content.decode() == reason
    assert nothing_happened(fake)


def test_a_good_delivery_is_stored_and_answered_without_a_podio_call(client, fake, hook):
    fake.reset_log()
    fake.hold_deliveries()
    body = form(FORM)
    response = client.generic(
        "POST", url(hook.secret), body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 202
    event = PodioHookEvent.objects.get()
    assert (event.type, event.item_id, event.revision) == ("item.update", 7, 70)
    # The hook has no connection, so processing (after the response) failed, and said why.
    assert event.status == PodioHookEvent.Status.FAILED
    assert "No active Podio connection" in event.last_error
    assert fake.requests == []
    again = client.generic(
        "POST", url(hook.secret), body, content_type="application/x-www-form-urlencoded"
    )
    assert again.status_code == 202
    duplicate = PodioHookEvent.objects.exclude(pk=event.pk).get()
    assert duplicate.duplicate_of == event and duplicate.status == PodioHookEvent.Status.DONE


def test_csrf_is_not_required_for_the_hook_view_alone(fake, hook):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.generic(
        "POST", url(hook.secret), form(FORM), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 202
    assert strict.post("/accounts/login/", {"login": "x", "password": "y"}).status_code == 403
