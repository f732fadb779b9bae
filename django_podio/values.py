"""Podio field values as plain Python values.

Podio reads items in shapes that differ by field type: numbers are strings with four decimals,
money carries its currency beside the amount, dates come as local and UTC strings, contacts and
references are whole nested objects. Code that only wants "the value of field ``amount``"
should not need to know that, so :func:`item_values` turns an item into
``{external_id: value}``:

================  ==========================================================================
field type        value
================  ==========================================================================
text              ``str`` (rich text keeps its HTML)
number            ``Decimal``
calculation       ``Decimal`` for numbers, :class:`DateRange` for dates, else the value
money             :class:`Money` ``(amount: Decimal, currency: str)``
progress          ``int`` (percent)
duration          ``datetime.timedelta``
date              :class:`DateRange` ``(start, end)``: aware UTC ``datetime`` when the date
                  has a time, ``datetime.date`` for all-day dates; ``end`` may be ``None``
location          ``str`` (the formatted address)
category          ``list[str]``: the chosen options' texts
contact, member   ``list[Contact]`` ``(profile_id, name, user_id, mail)``
app (reference)   ``list[ItemRef]`` ``(item_id, title, app_id)``
email, phone      ``list[TypedValue]``: strings that also carry Podio's ``type`` ("work" …)
embed (link)      ``list[Link]``: the URLs, strings that also carry Podio's ``embed_id``
image, file       ``list[FileRef]`` ``(file_id, name, mimetype, size)``
anything else     the field's ``values`` list, unchanged
================  ==========================================================================

Single-valued types give one value (or ``None``); types Podio lets hold several values always
give a list, whatever the field's settings, so code does not break when a field is switched
to "multiple". :func:`as_text` renders any of these values as one line (used for CSV).

Writing goes the other way: :func:`encode_fields` turns ``{external_id or field_id: value}``
into the ``fields`` of a create or update body, checked against the app's field definitions
first (see :func:`encode_value` for what each type takes). Every value read here can be
written back as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, NamedTuple

PODIO_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

MULTI_VALUE_TYPES = frozenset(
    {"category", "contact", "member", "app", "email", "phone", "embed", "image", "file"}
)


class Money(NamedTuple):
    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


class DateRange(NamedTuple):
    start: datetime | date | None
    end: datetime | date | None = None

    def __str__(self) -> str:
        start = "" if self.start is None else self.start.isoformat()
        return start if self.end is None else f"{start}/{self.end.isoformat()}"


class Contact(NamedTuple):
    profile_id: int | None
    name: str
    user_id: int | None = None
    mail: str | None = None

    def __str__(self) -> str:
        return self.name


class ItemRef(NamedTuple):
    item_id: int
    title: str
    app_id: int | None = None

    def __str__(self) -> str:
        return str(self.item_id)


class FileRef(NamedTuple):
    """A file in an image or file field (``file_id`` is what a write needs)."""

    file_id: int
    name: str = ""
    mimetype: str = ""
    size: int | None = None

    def __str__(self) -> str:
        return self.name or str(self.file_id)


class TypedValue(str):
    """An e-mail address or phone number that keeps its Podio ``type`` ("work", "mobile" …).

    A ``str`` in every other way (compares, prints, serialises as the bare value), so code
    that wants the address only never notices; writing it back keeps the type.
    """

    type: str

    def __new__(cls, value: str, type: str = "") -> TypedValue:
        obj = super().__new__(cls, value)
        obj.type = type
        return obj

    def __repr__(self) -> str:
        return f"TypedValue({str(self)!r}, type={self.type!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (TypedValue, (str(self), self.type))


class Link(str):
    """The URL of a link (``embed``) field value; ``embed_id`` lets a write reuse Podio's embed
    instead of creating a new one."""

    embed_id: int | None

    def __new__(cls, url: str, embed_id: int | None = None) -> Link:
        obj = super().__new__(cls, url)
        obj.embed_id = embed_id
        return obj

    def __repr__(self) -> str:
        return f"Link({str(self)!r}, embed_id={self.embed_id!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Link, (str(self), self.embed_id))


def parse_podio_datetime(text: str | None) -> datetime | None:
    """Podio's ``"YYYY-MM-DD HH:MM:SS"`` timestamps are UTC without saying so."""
    if not text:
        return None
    return datetime.strptime(text[:19], PODIO_TIME_FORMAT).replace(tzinfo=UTC)


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _date_side(entry: Mapping[str, Any], side: str) -> datetime | date | None:
    # The UTC forms are the only unambiguous ones; the plain ones are in the viewer's zone.
    date_text = entry.get(f"{side}_date_utc") or entry.get(f"{side}_date")
    has_time = entry.get(f"{side}_time_utc") or entry.get(f"{side}_time")
    if has_time and entry.get(f"{side}_utc"):
        return parse_podio_datetime(entry[f"{side}_utc"])
    if has_time and date_text:
        return parse_podio_datetime(f"{date_text} {entry.get(f'{side}_time_utc') or has_time}")
    if date_text:
        return date.fromisoformat(date_text[:10])
    text = entry.get(side)
    if not text:
        return None
    return date.fromisoformat(text) if len(text) == 10 else parse_podio_datetime(text)


def _date_range(entry: Mapping[str, Any]) -> DateRange:
    return DateRange(_date_side(entry, "start"), _date_side(entry, "end"))


def _contact(entry: Mapping[str, Any]) -> Contact:
    profile = entry.get("value") or {}
    mail = profile.get("mail")
    if isinstance(mail, list):
        mail = mail[0] if mail else None
    return Contact(
        profile_id=profile.get("profile_id"),
        name=profile.get("name") or "",
        user_id=profile.get("user_id"),
        mail=mail,
    )


def _item_ref(entry: Mapping[str, Any]) -> ItemRef:
    item = entry.get("value") or {}
    app = item.get("app") or {}
    return ItemRef(
        item_id=int(item["item_id"]), title=item.get("title") or "", app_id=app.get("app_id")
    )


def _one(ftype: str, entry: Any) -> Any:
    if not isinstance(entry, Mapping):
        return entry
    value = entry.get("value")
    if ftype == "text":
        return value
    if ftype == "number":
        return _decimal(value)
    if ftype == "money":
        return Money(_decimal(value), entry.get("currency") or "")  # type: ignore[arg-type]
    if ftype == "progress":
        return None if value is None else int(value)
    if ftype == "duration":
        return None if value is None else timedelta(seconds=int(value))
    if ftype == "date":
        return _date_range(entry)
    if ftype == "calculation":
        if "start" in entry or "start_utc" in entry:
            return _date_range(entry)
        number = _decimal(value)
        return value if number is None else number
    if ftype == "location":
        return entry.get("formatted") or value
    if ftype == "category":
        return value.get("text") if isinstance(value, Mapping) else value
    if ftype in ("contact", "member"):
        return _contact(entry)
    if ftype == "app":
        return _item_ref(entry)
    if ftype in ("email", "phone"):
        return None if value is None else TypedValue(str(value), str(entry.get("type") or ""))
    if ftype == "embed":
        embed = entry.get("embed") or {}
        url = embed.get("original_url") or embed.get("url") or ""
        return Link(str(url), embed.get("embed_id"))
    if ftype in ("image", "file"):
        file = value or {}
        return FileRef(
            file_id=int(file["file_id"]),
            name=file.get("name") or "",
            mimetype=file.get("mimetype") or "",
            size=file.get("size"),
        )
    return entry


KNOWN_TYPES = frozenset(
    {"text", "number", "money", "progress", "duration", "date", "calculation", "location"}
    | MULTI_VALUE_TYPES
)


def plain_value(field: Mapping[str, Any]) -> Any:
    """The value of one field of an item (an entry of ``item["fields"]``), as plain Python."""
    ftype = field.get("type")
    entries = field.get("values") or []
    if ftype not in KNOWN_TYPES:
        return field.get("values")
    if ftype in MULTI_VALUE_TYPES:
        return [_one(ftype, e) for e in entries]
    return _one(ftype, entries[0]) if entries else None


def item_values(item: Mapping[str, Any]) -> dict[str, Any]:
    """``{external_id: plain value}`` for every field the item has a value in.

    Podio leaves empty fields out of an item, so a missing key means "empty".
    """
    values = {}
    for f in item.get("fields") or []:
        if not isinstance(f, Mapping):
            raise FieldValueError(f"a field that is not an object: {_short(f)}")
        key = f.get("external_id") or str(f.get("field_id"))
        try:
            values[key] = plain_value(f)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as error:
            raise FieldValueError(
                f"field {key!r} ({f.get('type')}): cannot read {_short(f.get('values'))}"
            ) from error
    return values


class FieldValueError(ValueError):
    """A field value in a shape Podio does not send (progress ``'half'``, date ``'soon'``).

    Raised by :func:`item_values` naming the field, so a caller can set that one item aside
    with a clear message instead of ending its run in a traceback.
    """


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_text(value: Any) -> str:
    """One line of text for a plain value: for CSV cells and quick displays.

    Lists are joined with ``"; "``, durations are whole seconds, ``None`` is empty.
    """
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(as_text(v) for v in value)
    if isinstance(value, timedelta):
        return str(int(value.total_seconds()))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (dict, tuple)) and not hasattr(value, "_fields"):
        import json

        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


# Writing, the inverse of the above, lives in django_podio.encoding (which imports this
# module's value types); its functions are importable from here too.
_ENCODING_NAMES = frozenset({"encode_fields", "encode_value"})
if TYPE_CHECKING:
    from .encoding import encode_fields, encode_value


def __getattr__(name: str) -> Any:
    if name in _ENCODING_NAMES:
        from . import encoding

        return getattr(encoding, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Contact",
    "DateRange",
    "FieldValueError",
    "FileRef",
    "ItemRef",
    "Link",
    "Money",
    "TypedValue",
    "as_text",
    "encode_fields",
    "encode_value",
    "item_values",
    "parse_podio_datetime",
    "plain_value",
]
