"""The webhook that follows the site's own write finds the cache current: no second refetch."""

from __future__ import annotations

import json
import threading
import time
from io import StringIO

import pytest
from django.core.management import call_command

from django_podio import get_client
from django_podio.models import PodioHookEvent, PodioItem

from .conftest import AFTER_RESPONSE, SHARED_CONNECTION, wait_until

Status = PodioHookEvent.Status


def settled(site) -> bool:
    return (
        site.fake.wait_for_deliveries(0)
        and AFTER_RESPONSE.idle()
        and not PodioHookEvent.objects.filter(
            status__in=[Status.PENDING, Status.PROCESSING]
        ).exists()
    )


@pytest.fixture
def hooked(site):
    out = StringIO()
    with site.fake.held_deliveries(), SHARED_CONNECTION:
        call_command("podio_hooks", "sync", str(site.app.app_id), "--app", "--json", stdout=out)
    assert json.loads(out.getvalue())["ok"]
    wait_until(
        lambda: sum(h.status == "active" for h in site.fake.hooks.values()) == 3, what="verified"
    )
    wait_until(lambda: settled(site))
    site.fake.reset_log()
    return site


def test_own_create_and_update_cost_one_refetch_each_webhooks_included(hooked, received):
    fake, app = hooked.fake, hooked.app
    # Each webhook follows its write's answer, as Podio's do (a delivery processed while the
    # write-through's own GET is still in flight refetches too: see the next test).
    with fake.held_deliveries(), SHARED_CONNECTION:
        client = get_client(app_id=app.app_id)
        created = client.create_item(app.app_id, {"title": "Ours"})
        item_id = created["item_id"]
        assert PodioItem.objects.get(item_id=item_id).revision == 0  # before any webhook
    wait_until(lambda: PodioHookEvent.objects.filter(item_id=item_id).exists(), what="event")
    wait_until(lambda: settled(hooked))
    with fake.held_deliveries(), SHARED_CONNECTION:
        client.update_item(item_id, {"title": "Ours, edited"})
    wait_until(lambda: PodioHookEvent.objects.filter(item_id=item_id, type="item.update").exists())
    wait_until(lambda: settled(hooked))
    gets = fake.requests_to(f"/item/{item_id}", "GET")
    assert len(gets) == 2  # the write-through of each write; the webhooks refetched nothing
    events = PodioHookEvent.objects.filter(item_id=item_id).order_by("pk")
    assert [(e.type, e.status) for e in events] == [
        ("item.create", Status.DONE),
        ("item.update", Status.DONE),
    ]
    row = PodioItem.objects.get(item_id=item_id)
    assert (row.title, row.revision) == ("Ours, edited", 1)
    # The host heard of each change once: from the write, not again from its webhook.
    assert received.changed == [
        (app.app_id, item_id, "item.create", 0),
        (app.app_id, item_id, "item.update", 1),
    ]


def test_a_webhook_processed_while_the_write_through_fetches_is_heard_once(hooked, received):
    """Podio's webhook can beat the write-through: it arrives and is processed while the
    write-through's own GET is in flight. That costs one more GET, never a second signal."""
    fake, app = hooked.fake, hooked.app
    fake.hold_deliveries()
    first_get = threading.Event()

    def webhook_first(request, phase):
        if (
            phase == "received"
            and request.method == "GET"
            and request.path.startswith("/item/")
            and not first_get.is_set()
        ):
            first_get.set()  # the write-through's GET: answered after the webhook is done
            fake.release_deliveries()
            deadline = time.monotonic() + 15
            while not received.changed and time.monotonic() < deadline:
                time.sleep(0.01)

    fake.observers.append(webhook_first)
    try:
        with SHARED_CONNECTION:
            client = get_client(app_id=app.app_id)
            item_id = client.create_item(app.app_id, {"title": "Raced"})["item_id"]
    finally:
        fake.observers.remove(webhook_first)
        fake.release_deliveries()
    assert first_get.is_set()
    wait_until(lambda: settled(hooked))
    assert len(fake.requests_to(f"/item/{item_id}", "GET")) == 2  # the webhook's and ours
    events = PodioHookEvent.objects.filter(item_id=item_id)
    assert [(e.type, e.status) for e in events] == [("item.create", Status.DONE)]
    assert PodioItem.objects.get(item_id=item_id).revision == 0
    assert received.changed == [(app.app_id, item_id, "item.create", 0)]


def test_a_change_made_elsewhere_still_refetches(hooked):
    fake, app = hooked.fake, hooked.app
    item_id = fake.add_item(app.app_id, fields={"title": "Theirs"})["item_id"]
    wait_until(lambda: PodioItem.objects.filter(item_id=item_id).exists(), what="cache row")
    assert len(fake.requests_to(f"/item/{item_id}", "GET")) == 1


def test_an_app_update_webhook_drops_the_cached_definition(site):
    from django_podio.api.apps import cached_app

    out = StringIO()
    with site.fake.held_deliveries(), SHARED_CONNECTION:
        call_command(
            "podio_hooks",
            "sync",
            str(site.app.app_id),
            "--app",
            "--events",
            "app.update",
            stdout=out,
        )
    wait_until(lambda: any(h.status == "active" for h in site.fake.hooks.values()))
    wait_until(lambda: settled(site))
    with SHARED_CONNECTION:
        client = get_client(app_id=site.app.app_id)
        client.get_app(site.app.app_id)
    assert cached_app(site.app.app_id) is not None
    site.fake.add_field(site.app.app_id, {"external_id": "priority", "type": "progress"})
    wait_until(lambda: PodioHookEvent.objects.filter(type="app.update").exists(), what="event")
    wait_until(lambda: settled(site))
    assert cached_app(site.app.app_id) is None
    with SHARED_CONNECTION:
        created = client.create_item(site.app.app_id, {"title": "x", "priority": 3})
    assert created["item_id"]
