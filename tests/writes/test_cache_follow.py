"""The item cache follows the site's own writes: rows appear, change and go at once."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction

from django_podio import get_client, items, signals, tokens
from django_podio.models import PodioItem, PodioItemSync

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cached(podio):
    """The every-type app, cached (a sync ran), and a client from ``get_client``."""
    tokens.store_app_connection(podio.app.app_id, podio.app.app_token)
    PodioItemSync.objects.create(app_id=podio.app.app_id)
    podio.site_client = get_client(app_id=podio.app.app_id)
    podio.site_client.get_app(podio.app.app_id)
    podio.fake.reset_log()
    return podio


@pytest.fixture
def heard():
    got: list[tuple] = []

    def changed(sender, app_id, item_id, event, item, **kwargs):
        got.append(("changed", sender.__name__, item_id, event, item["revision"]))

    def deleted(sender, app_id, item_id, **kwargs):
        got.append(("deleted", sender.__name__, item_id))

    signals.item_changed.connect(changed)
    signals.item_deleted.connect(deleted)
    yield got
    signals.item_changed.disconnect(changed)
    signals.item_deleted.disconnect(deleted)


def test_create_update_delete_show_in_the_cache_at_once(cached, heard):
    client, fake = cached.site_client, cached.fake
    created = client.create_item(cached.app.app_id, {"title": "New", "progress": 5})
    row = PodioItem.objects.get(item_id=created["item_id"])
    assert (row.title, row.revision, row.app_id) == ("New", 0, cached.app.app_id)
    assert row.data["fields"] and row.data["current_revision"]["revision"] == 0
    client.update_item(created["item_id"], {"title": "Renamed"})
    row.refresh_from_db()
    assert (row.title, row.revision) == ("Renamed", 1)
    gets = fake.requests_to(f"/item/{created['item_id']}", "GET")
    assert len(gets) == 2  # one refetch per write, nothing else
    client.update_item(created["item_id"], {"title": "Renamed"})  # changes nothing
    assert len(fake.requests_to(f"/item/{created['item_id']}", "GET")) == 2
    client.delete_item(created["item_id"])
    assert not PodioItem.objects.filter(item_id=created["item_id"]).exists()
    item_id = created["item_id"]
    assert heard == [
        ("changed", "PodioItem", item_id, "item.create", 0),
        ("changed", "PodioItem", item_id, "item.update", 1),
        ("deleted", "PodioItem", item_id),
    ]


def test_an_update_of_a_cached_item_needs_no_request_to_find_its_app(cached):
    item_id = cached.other
    items.store_item(cached.client.get_item(item_id))
    fresh = get_client(app_id=cached.app.app_id)  # knows nothing of the item
    cached.fake.reset_log()
    fresh.update_item(item_id, {"progress": 77})
    assert [(r.method, r.path) for r in cached.fake.requests] == [
        ("PUT", f"/item/{item_id}"),
        ("GET", f"/item/{item_id}"),  # the write-through
    ]
    assert items.item_app_id(PodioItem.objects.get(item_id=item_id).data) == cached.app.app_id


def test_an_app_the_cache_does_not_keep_costs_no_refetch(cached):
    PodioItemSync.objects.all().delete()
    created = cached.site_client.create_item(cached.app.app_id, {"title": "Uncached"})
    assert not PodioItem.objects.exists()
    assert cached.fake.requests_to(f"/item/{created['item_id']}", "GET") == []


def test_a_create_found_by_external_id_is_written_through_without_a_refetch(cached):
    path = f"/item/app/{cached.app.app_id}/"
    cached.fake.add_fault("drop_after", path=path, method="POST")
    created = cached.site_client.create_item(cached.app.app_id, {"title": "x"}, external_id="e")
    assert PodioItem.objects.get(item_id=created["item_id"]).external_id == "e"
    assert cached.fake.requests_to(f"/item/{created['item_id']}", "GET") == []


def test_inside_the_callers_transaction_the_row_waits_for_the_commit(cached):
    client = cached.site_client
    with transaction.atomic():
        created = client.create_item(cached.app.app_id, {"title": "In a transaction"})
        assert not PodioItem.objects.filter(item_id=created["item_id"]).exists()
    assert PodioItem.objects.filter(item_id=created["item_id"]).exists()
    with pytest.raises(RuntimeError), transaction.atomic():
        rolled = client.create_item(cached.app.app_id, {"title": "Rolled back"})
        raise RuntimeError("the view failed after the write")
    # Podio has it; the cache does not (the webhook or the next sync will bring it).
    assert not PodioItem.objects.filter(item_id=rolled["item_id"]).exists()
    assert cached.fake.get_item(rolled["item_id"])


def test_a_failing_refetch_does_not_make_the_write_fail(cached, caplog, sleeper):
    client = get_client(app_id=cached.app.app_id, sleep=sleeper)
    cached.fake.add_fault("500", path="/item/", method="GET", count=10)
    with caplog.at_level(logging.WARNING, logger="django_podio.api"):
        created = client.create_item(cached.app.app_id, {"title": "Written"})
    assert cached.fake.get_item(created["item_id"])  # the answer came back: no retry needed
    assert not PodioItem.objects.filter(item_id=created["item_id"]).exists()
    assert "Noting a Podio create" in caplog.text
