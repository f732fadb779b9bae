"""Every field type: a Python value written, read back through ``values``, gives that value;
and every value a field cannot take is refused, naming the field, before any request."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from django_podio.encoding import ENCODERS, READ_ONLY_TYPES
from django_podio.exceptions import InvalidFieldValue
from django_podio.values import Contact, DateRange, FileRef, ItemRef, Money, item_values

CET = timezone(timedelta(hours=1))
START = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
END = datetime(2024, 3, 2, 17, 0, tzinfo=UTC)


def upload(podio) -> int:
    return podio.client.upload_file("logo.png", b"\x89PNG\r\n\x1a\n fake image")


# (field, value written, what values.item_values reads back); callables get the fixture.
ROUND_TRIPS = {
    "text": ("title", "Hello, Podio", "Hello, Podio"),
    "text (rich)": ("notes", "<p>Hi <b>there</b></p>", "<p>Hi <b>there</b></p>"),
    "number (Decimal)": ("amount", Decimal("1234.5678"), Decimal("1234.5678")),
    "number (int)": ("amount", 7, Decimal(7)),
    "number (float)": ("amount", 2.25, Decimal("2.25")),
    "money (amount, currency)": (
        "budget",
        (Decimal("99.95"), "USD"),
        Money(Decimal("99.95"), "USD"),
    ),
    "money (the field's one currency)": ("fee", Decimal("3.5"), Money(Decimal("3.5"), "EUR")),
    "category (text)": ("status", "Active", ["Active"]),
    "category (id)": ("status", 4, ["Done"]),
    "category (several)": ("tags", ["Urgent", 3], ["Urgent", "Internal"]),
    "date (range with times)": ("due-date", (START, END), DateRange(START, END)),
    "date (time in another zone)": (
        "due-date",
        datetime(2024, 3, 1, 10, 30, tzinfo=CET),
        DateRange(START, None),
    ),
    "date (all day)": ("day", date(2024, 5, 6), DateRange(date(2024, 5, 6), None)),
    "app reference": (
        "related",
        lambda p: p.other,
        lambda p: [ItemRef(p.other, "Referenced", p.app.app_id)],
    ),
    "contact": ("owner", lambda p: p.user.profile_id, lambda p: [p.user.profile_id]),
    "member": ("reviewer", lambda p: p.user.user_id, lambda p: [p.user.user_id]),
    "email (type, value)": ("email", ("home", "ada@example.com"), ["ada@example.com"]),
    "phone": ("phone", "+45 1234 5678", ["+45 1234 5678"]),
    "link": ("website", "https://example.com/docs", ["https://example.com/docs"]),
    "location": ("location", "Dam 1, Amsterdam", "Dam 1, Amsterdam"),
    "progress": ("progress", 40, 40),
    "duration": ("duration", timedelta(hours=1, minutes=30), timedelta(minutes=90)),
    "image": ("photo", upload, None),  # read back: the uploaded file
    "file (several)": ("attachment", lambda p: [upload(p), upload(p)], None),
}


def _resolve(value, podio):
    return value(podio) if callable(value) else value


def _comparable(ftype: str, read):
    """What a read value holds of what was written (contacts and files carry more)."""
    if ftype == "contact":
        return [c.profile_id for c in read]
    if ftype == "member":
        return [c.user_id for c in read]
    if ftype in ("image", "file"):
        return [f.file_id for f in read]
    return read


@pytest.mark.parametrize("case", list(ROUND_TRIPS), ids=str)
def test_round_trip(podio, case):
    key, written, expected = ROUND_TRIPS[case]
    field = next(f for f in podio.app.fields if f["external_id"] == key)
    value = _resolve(written, podio)
    created = podio.client.create_item(podio.app.app_id, {key: value})
    read = item_values(podio.client.get_item(created["item_id"]))[key]
    if field["type"] in ("image", "file"):
        ids = value if isinstance(value, list) else [value]
        assert _comparable(field["type"], read) == ids
        assert all(isinstance(f, FileRef) and f.name == "logo.png" for f in read)
    else:
        assert _comparable(field["type"], read) == _resolve(expected, podio)
    if field["type"] == "email":
        assert read[0].type == "home"
    # ... and writing back what was read changes nothing (Podio's 204: no new revision).
    again = podio.client.update_item(created["item_id"], {key: read})
    assert again["changed"] is False


def test_every_writable_type_has_a_round_trip():
    tested = {f["type"] for f in _every_type_fields() if f["external_id"] in _keys()}
    assert tested == set(ENCODERS)
    assert {"calculation"} == READ_ONLY_TYPES and not READ_ONLY_TYPES & set(ENCODERS)


def _every_type_fields():
    from django_podio.testing.seed import every_type_fields

    return every_type_fields(1)


def _keys():
    return {key for key, _, _ in ROUND_TRIPS.values()}


# Values a field cannot take: (field, value, words the reason must contain).
BAD_VALUES = {
    "text not a str": ("title", 42, "needs a str"),
    "number as text": ("amount", "12", "needs a number"),
    "number NaN": ("amount", float("nan"), "finite"),
    "number bool": ("amount", True, "needs a number"),
    "money without currency, several allowed": ("budget", Decimal(1), "allows EUR, USD, DKK, GBP"),
    "money in a currency not allowed": ("budget", (Decimal(1), "JPY"), "does not allow JPY"),
    "money with a malformed currency": ("budget", (Decimal(1), "eur"), "currency code"),
    "money amount not a number": ("fee", ("ten", "EUR"), "needs a number"),
    "category no such option": ("status", "Nope", "has no option 'Nope'"),
    "category two for a single one": ("status", ["Active", "Done"], "takes one option"),
    "category deleted option": ("tags", "Retired", "has no option 'Retired'"),
    "date naive datetime": ("due-date", datetime(2024, 1, 1, 9), "aware datetime"),
    "date end before start": ("due-date", (END, START), "before it starts"),
    "date start and end of two kinds": ("due-date", (date(2024, 1, 1), END), "both be dates"),
    "date with a time where none is kept": ("day", START, "without a time"),
    "date with an end where none is kept": ("day", (date(2024, 1, 1), date(2024, 1, 2)), "no end"),
    "date as text": ("day", "2024-01-01", "needs a date"),
    "app reference not positive": ("related", 0, "positive"),
    "app reference as text": ("related", "12", "needs an item id"),
    "app reference into another app": ("related", ItemRef(5, "x", 999), "cannot refer to"),
    "contact without profile": ("owner", Contact(None, "Nobody"), "no profile id"),
    "member not a user": ("reviewer", Contact(7, "Guest", None), "not a Podio user"),
    "email malformed": ("email", "not-an-email", "not an e-mail address"),
    "email with a type the field has not": ("email", ("fax", "a@example.com"), "no type 'fax'"),
    "email as a number": ("email", 5, "needs a str or (type"),
    "phone not a number": ("phone", "call me maybe", "not a phone number"),
    "link not http": ("website", "ftp://example.com/x", "not an http(s) URL"),
    "link not a URL": ("website", "example dot com", "not an http(s) URL"),
    "location blank": ("location", "   ", "needs an address"),
    "progress over 100": ("progress", 101, "from 0 to 100"),
    "progress negative": ("progress", -1, "from 0 to 100"),
    "progress float": ("progress", 50.0, "needs a percentage"),
    "duration fraction of a second": ("duration", timedelta(seconds=1.5), "whole seconds"),
    "duration negative": ("duration", timedelta(seconds=-5), "cannot be negative"),
    "image as text": ("photo", "logo.png", "needs a file id"),
    "calculation (read-only)": ("calculation", 5, "Podio computes calculation fields"),
    "created_on (item attribute)": ("created_on", START, "Podio sets this itself"),
    "no such field": ("nope", 1, "has no such field"),
}


@pytest.mark.parametrize("case", list(BAD_VALUES), ids=str)
def test_bad_value_is_refused_before_any_request(podio, case):
    key, value, words = BAD_VALUES[case]
    podio.client.get_app(podio.app.app_id)  # definitions cached: a write costs no extra GET
    item_id = podio.other
    podio.client.get_item(item_id)  # its app remembered, as after any read
    before = len(podio.fake.requests)
    with pytest.raises(InvalidFieldValue) as created:
        podio.client.create_item(podio.app.app_id, {key: value}, external_id="never")
    with pytest.raises(InvalidFieldValue) as updated:
        podio.client.update_item(item_id, {key: value})
    assert podio.fake.requests[before:] == []  # nothing was sent
    for info in (created, updated):
        error = info.value
        assert isinstance(error, ValueError)
        assert error.field == key and f"field {key!r}" in str(error)
        assert words in error.reason, error.reason
    label = next((f["config"]["label"] for f in podio.app.fields if f["external_id"] == key), "")
    if label:
        assert created.value.label == label and repr(label) in str(created.value)


def test_a_field_named_twice_is_refused(podio):
    title = next(f for f in podio.app.fields if f["external_id"] == "title")
    podio.client.get_app(podio.app.app_id)
    before = len(podio.fake.requests)
    with pytest.raises(InvalidFieldValue, match="given twice"):
        podio.client.create_item(podio.app.app_id, {"title": "a", title["field_id"]: "b"})
    assert podio.fake.requests[before:] == []


@pytest.mark.parametrize("key", [True, 1.5, None, ("title",)])
def test_field_keys_must_be_external_ids_or_field_ids(podio, key):
    with pytest.raises(InvalidFieldValue, match="external id or field id"):
        podio.client.create_item(podio.app.app_id, {key: "x"})


def test_fields_by_field_id_and_empty_values(podio):
    amount = next(f for f in podio.app.fields if f["external_id"] == "amount")
    created = podio.client.create_item(
        podio.app.app_id, {amount["field_id"]: 5, str(amount["field_id"] + 1): None, "title": "x"}
    )
    values = item_values(podio.client.get_item(created["item_id"]))
    assert values["amount"] == 5 and "budget" not in values
    podio.client.update_item(created["item_id"], {"amount": None, "title": ""})
    assert "amount" not in item_values(podio.client.get_item(created["item_id"]))
