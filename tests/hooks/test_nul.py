"""Webhooks whose text holds NUL: stored without it, processed, never stuck (every database).

Before django_podio.text, PostgreSQL refused such a delivery (500 to Podio at every retry),
the refetched item (the event stayed ``processing``), and an error message quoting it.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from django_podio.hooks.secret import digest, new_secret
from django_podio.models import PodioHook, PodioHookEvent, PodioItem

from .conftest import wait_until
from .test_end_to_end import hooked, settled  # noqa: F401 - the fixture, and its helper

Status = PodioHookEvent.Status


@pytest.mark.django_db
def test_a_delivery_whose_form_holds_nul_is_stored_without_it(client, fake):
    secret = new_secret()
    PodioHook.objects.create(
        hook_id=4242,
        app_id=1,
        event_type="item.update",
        secret_hash=digest(secret),
        status=PodioHook.Status.ACTIVE,
    )
    fake.hold_deliveries()
    form = {
        "type": "item.update",
        "hook_id": "4242",
        "item_id": "7",
        "item_revision_id": "70",
        "external_id": "ext\x00ernal",
        "odd\x00key": "odd\x00value",
    }
    response = client.generic(
        "POST",
        f"/podio/hooks/{secret}/",
        urlencode(form),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 202
    event = PodioHookEvent.objects.get()
    assert event.external_id == "external"
    assert event.payload["oddkey"] == "oddvalue" and event.payload["external_id"] == "external"
    # Processed after the response (this hook has no connection): failed, and said why.
    assert event.status == Status.FAILED and "No active Podio connection" in event.last_error


def test_an_item_whose_text_holds_nul_reaches_the_cache(hooked):  # noqa: F811
    fake, app = hooked.fake, hooked.app
    item_id = fake.add_item(app.app_id, fields={"title": "Bad\x00 title"})["item_id"]
    wait_until(lambda: settled(hooked))
    assert PodioHookEvent.objects.get(item_id=item_id).status == Status.DONE
    assert PodioItem.objects.get(item_id=item_id).title == "Bad title"
    fake.update_item(item_id, {"title": "Still\x00 odd"})
    wait_until(lambda: settled(hooked))
    assert PodioItem.objects.get(item_id=item_id).title == "Still odd"
    assert set(PodioHookEvent.objects.values_list("status", flat=True)) == {Status.DONE}


def test_an_error_quoting_nul_fails_the_event_with_a_storable_message(hooked):  # noqa: F811
    fake, app = hooked.fake, hooked.app
    item_id = fake.add_item(app.app_id, fields={"title": "v0"})["item_id"]
    wait_until(lambda: settled(hooked))
    # The refetch answers an item whose id holds NUL: set aside, the message quotes the id.
    fake.serve_odd_item(item_id, item_id=f"{item_id}\x00")
    fake.update_item(item_id, {"title": "v1"})
    wait_until(lambda: settled(hooked))
    event = PodioHookEvent.objects.get(item_id=item_id, type="item.update")
    assert event.status == Status.FAILED and event.attempts == 1
    assert f"item {item_id}: item_id" in event.last_error and "\x00" not in event.last_error
