"""What Podio sends comes back from the database as it was, on every database.

MariaDB/MySQL are where this can go wrong: 3-byte ``utf8`` tables refuse 4-byte characters,
JSON is text there (numbers and key order must survive the round trip), and a ``DATETIME``
without a fraction drops microseconds (Django creates ``DATETIME(6)``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from django_podio import items
from django_podio.models import PodioConnection, PodioItem
from tests.factories import make_connection

pytestmark = pytest.mark.django_db

ITEM = {
    "item_id": 2**40 + 7,  # beyond 32 bits, as Podio's ids will be
    "app_item_id": 12,
    "external_id": "ext-😀",
    "title": "Ärger über 🚀 und 𝄞: 4-byte characters",
    "revision": 3,
    "last_event_on": "2024-02-29 23:59:59",
    "fields": [
        {"external_id": "amount", "values": [{"value": "1234.5600"}, {"value": 0.1}]},
        {"external_id": "big", "values": [{"value": 2**53 + 1}, {"value": -(2**63)}]},
        {"external_id": "nested", "values": [{"value": {"b": [1, {"c": None}], "a": True}}]},
    ],
    "emoji_key_😀": "value",
    "empty": {},
    "list": [],
}


def test_an_item_comes_back_as_podio_sent_it():
    now = datetime(2024, 3, 1, 12, 30, 45, 123456, tzinfo=UTC)
    done = items.upsert_items(5, [ITEM], now=now)
    assert done.created == 1
    row = PodioItem.objects.get(item_id=ITEM["item_id"])
    assert row.data == ITEM
    assert row.title == ITEM["title"] and row.external_id == ITEM["external_id"]
    assert row.fetched_at == now  # microseconds kept
    assert row.last_event_on == datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)
    # Filtering on the JSON works too (the hook processing reads a revision this way).
    assert PodioItem.objects.filter(data__fields__1__values__0__value=2**53 + 1).exists()
    assert PodioItem.objects.filter(title__contains="🚀").count() == 1
    # Written again unchanged: nothing to write (the stored columns compare equal).
    assert items.upsert_items(5, [ITEM], now=now).unchanged == 1


def test_times_keep_their_microseconds():
    moment = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    connection = make_connection(scope="global:all 😀")
    PodioConnection.objects.filter(pk=connection.pk).update(expires_at=moment)
    stored = PodioConnection.objects.get(pk=connection.pk)
    assert stored.expires_at == moment and stored.scope == "global:all 😀"
    assert PodioConnection.objects.filter(expires_at__lt=moment).count() == 0
    assert PodioConnection.objects.filter(expires_at__lte=moment).count() == 1
