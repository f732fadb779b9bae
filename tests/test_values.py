"""Podio's read shapes as plain Python values: every documented type, on the fake's real items."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from django_podio.values import (
    Contact,
    DateRange,
    FileRef,
    ItemRef,
    Money,
    as_text,
    item_values,
    parse_podio_datetime,
    plain_value,
)


def field(ftype: str, *values, external_id: str = "f") -> dict:
    return {"field_id": 1, "external_id": external_id, "type": ftype, "values": list(values)}


def test_scalars():
    assert plain_value(field("text", {"value": "<p>Hi</p>"})) == "<p>Hi</p>"
    assert plain_value(field("number", {"value": "6513.5100"})) == Decimal("6513.51")
    assert plain_value(field("progress", {"value": 42})) == 42
    assert plain_value(field("duration", {"value": 5400})) == timedelta(minutes=90)
    assert plain_value(field("calculation", {"value": "12.3400"})) == Decimal("12.34")
    assert plain_value(field("calculation", {"value": "not a number"})) == "not a number"
    location = {"value": "Dam 1, Amsterdam", "formatted": "Dam 1, 1012 JS Amsterdam", "lat": 52.3}
    assert plain_value(field("location", location)) == "Dam 1, 1012 JS Amsterdam"


def test_money_keeps_its_currency():
    value = plain_value(field("money", {"value": "541.9870", "currency": "EUR"}))
    assert value == Money(Decimal("541.987"), "EUR")
    assert value.amount == Decimal("541.9870") and str(value) == "541.9870 EUR"


def test_dates_use_the_utc_forms():
    entry = {
        "start": "2024-03-01 10:00:00",  # the viewer's local time (Copenhagen, UTC+1)
        "start_date": "2024-03-01",
        "start_time": "10:00:00",
        "start_utc": "2024-03-01 09:00:00",
        "start_date_utc": "2024-03-01",
        "start_time_utc": "09:00:00",
        "end": None,
        "end_date": None,
        "end_time": None,
        "end_utc": None,
        "end_date_utc": None,
        "end_time_utc": None,
    }
    value = plain_value(field("date", entry))
    assert value == DateRange(datetime(2024, 3, 1, 9, tzinfo=UTC), None)
    assert str(value) == "2024-03-01T09:00:00+00:00"


def test_all_day_dates_are_dates():
    entry = {
        "start": "2024-03-01",
        "start_date": "2024-03-01",
        "start_time": None,
        "start_utc": "2024-03-01",
        "end": "2024-03-03",
        "end_date": "2024-03-03",
        "end_time": None,
        "end_utc": "2024-03-03",
    }
    value = plain_value(field("date", entry))
    assert value == DateRange(date(2024, 3, 1), date(2024, 3, 3))
    assert as_text(value) == "2024-03-01/2024-03-03"


def test_multi_value_types_are_always_lists():
    option = {"value": {"id": 2, "text": "Active", "status": "active", "color": "D2E4EB"}}
    assert plain_value(field("category", option)) == ["Active"]
    assert plain_value(field("category")) == []
    profile = {"value": {"profile_id": 7, "user_id": 3, "name": "Ada", "mail": ["ada@example.com"]}}
    assert plain_value(field("contact", profile)) == [Contact(7, "Ada", 3, "ada@example.com")]
    ref = {"value": {"item_id": 11, "title": "Other", "app": {"app_id": 5}}}
    assert plain_value(field("app", ref, ref)) == [ItemRef(11, "Other", 5)] * 2
    assert plain_value(field("email", {"type": "work", "value": "a@example.com"})) == [
        "a@example.com"
    ]
    assert plain_value(field("phone", {"type": "mobile", "value": "+45 1234"})) == ["+45 1234"]


def test_unknown_types_pass_through_unchanged():
    values = [{"value": {"widget": 9}}]
    assert plain_value(field("some-new-type", *values)) == values
    assert plain_value(field("text")) is None


def test_files_links_and_typed_values_keep_what_a_write_needs():
    image = {"value": {"file_id": 9, "name": "logo.png", "mimetype": "image/png", "size": 12}}
    assert plain_value(field("image", image)) == [FileRef(9, "logo.png", "image/png", 12)]
    assert str(plain_value(field("file", image))[0]) == "logo.png"
    embed = {"embed": {"embed_id": 4, "original_url": "https://example.com/a"}, "file": None}
    [link] = plain_value(field("embed", embed))
    assert link == "https://example.com/a" and link.embed_id == 4
    [mail] = plain_value(field("email", {"type": "home", "value": "a@example.com"}))
    assert mail == "a@example.com" and mail.type == "home"
    assert as_text([mail, link]) == "a@example.com; https://example.com/a"


def test_item_values_on_a_real_fake_item(fake):
    app = fake.add_app(name="Values")
    fake.add_items(app.app_id, 3)
    item = fake.item_json(fake.get_item(max(app.items)))
    values = item_values(item)
    assert set(values) == {f["external_id"] for f in item["fields"]}
    assert isinstance(values["amount"], Decimal)
    assert isinstance(values["budget"], Money) and values["budget"].currency in {
        "EUR",
        "USD",
        "DKK",
        "GBP",
    }
    assert values["status"][0] in {"Planned", "Active", "On hold", "Done"}
    assert values["due-date"].start.tzinfo is UTC
    assert isinstance(values["owner"][0], Contact) and values["owner"][0].name
    assert isinstance(values["related"][0], ItemRef)
    assert isinstance(values["duration"], timedelta)
    assert values["calculation"] == (values["amount"] * Decimal("0.1")).quantize(Decimal("0.0001"))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (Decimal("1.5000"), "1.5000"),
        (["a", "b"], "a; b"),
        (timedelta(hours=1), "3600"),
        ([ItemRef(5, "x")], "5"),
        ({"b": 1, "a": 2}, '{"a": 2, "b": 1}'),
    ],
)
def test_as_text(value, text):
    assert as_text(value) == text


def test_parse_podio_datetime_is_utc():
    assert parse_podio_datetime("2014-12-10 15:25:32") == datetime(
        2014, 12, 10, 15, 25, 32, tzinfo=UTC
    )
    assert parse_podio_datetime(None) is None
