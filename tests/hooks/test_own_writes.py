"""The webhook that follows the site's own write finds the cache current: no second refetch."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from django_podio import get_client
from django_podio.models import PodioHookEvent, PodioItem

from .conftest import SHARED_CONNECTION, wait_until

Status = PodioHookEvent.Status


def settled(site) -> bool:
    return (
        site.fake.wait_for_deliveries(0)
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
    with SHARED_CONNECTION:
        client = get_client(app_id=app.app_id)
        created = client.create_item(app.app_id, {"title": "Ours"})
        item_id = created["item_id"]
        assert PodioItem.objects.get(item_id=item_id).revision == 0  # before any webhook
    wait_until(lambda: PodioHookEvent.objects.filter(item_id=item_id).exists(), what="event")
    wait_until(lambda: settled(hooked))
    with SHARED_CONNECTION:
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
