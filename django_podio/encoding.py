"""Python values → the values Podio's item writes take, checked against the app's fields.

The inverse of :func:`django_podio.values.item_values`. Podio answers a bad value with a 400
that does not say which field it means and may be in the user's language (``podio-api.md``
§4.5), so every value is checked here, against the field's definition (its type and
settings), before anything is sent; a value the field cannot take raises
:class:`~django_podio.exceptions.InvalidFieldValue` naming the field and the reason.

================  ==========================================================================
field type        Python value (a list, tuple or set of them where the type holds several)
================  ==========================================================================
text              ``str`` (HTML for rich-text fields, as Podio stores it)
number            ``int``, ``float`` or ``Decimal`` (Podio keeps four decimals)
money             ``Money(amount, "EUR")`` or ``(amount, "EUR")``; a bare amount when the
                  field allows one currency only
date              ``date`` (all day) or an aware ``datetime``, or ``(start, end)``
                  (``DateRange``); times are kept to the second
category          an option's text or id
app (reference)   item ids (``int``) or ``ItemRef``
contact           profile ids or ``Contact``; member: user ids or ``Contact``
email, phone      ``str`` (the field's first type, "work" where allowed) or
                  ``(type, value)``; a list for several
embed (link)      a URL (``Link`` as read keeps Podio's embed; a new URL costs the client a
                  ``POST /embed/`` first)
location          ``str`` (an address)
progress          ``int`` from 0 to 100
duration          ``timedelta`` (whole seconds) or seconds as an ``int``
image, file       file ids (from ``PodioClient.upload_file``) or ``FileRef``
calculation       read-only: Podio computes it
================  ==========================================================================

``None``, ``""`` and an empty list empty the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.utils.translation import gettext_lazy as _

from .exceptions import InvalidFieldValue
from .redaction import redact
from .values import (
    PODIO_TIME_FORMAT,
    Contact,
    FileRef,
    ItemRef,
    Link,
    TypedValue,
)

#: Types Podio computes: a write is refused (Podio's own 400 says "Values cannot be set
#: directly for field with id N").
READ_ONLY_TYPES = frozenset({"calculation"})
#: What an item has that is not a field: Podio sets these itself.
ITEM_ATTRIBUTES = frozenset(
    {
        "item_id",
        "app_item_id",
        "revision",
        "created_on",
        "created_by",
        "created_via",
        "last_event_on",
        "last_edit_on",
        "link",
    }
)
EMAIL_TYPES = ("work", "home", "other")
PHONE_TYPES = ("mobile", "work", "home", "main", "work_fax", "private_fax", "other")
_PHONE = re.compile(r"^[0-9+()\-./\s*#xX]*[0-9][0-9+()\-./\s*#xX]*$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_email = EmailValidator()
_url = URLValidator(schemes=["http", "https"])


class NewLink(NamedTuple):
    """A link value whose embed Podio has yet to create (``POST /embed/``).

    Stands in the encoded ``fields`` until the client has created the embed; it is not JSON,
    so a body holding one cannot be sent by mistake.
    """

    url: str


class _Bad(Exception):
    """A reason a value does not fit; :func:`encode_value` names the field around it.

    The reason is for developers (it names Python types, in English, as Django's exception
    messages do); ``user`` is what a form shows a person instead, translated, for the reasons
    a person can cause through a form's own fields (an end before the start, a bad phone).
    """

    def __init__(self, reason: str, user: Any = None) -> None:
        super().__init__(reason)
        self.user = user


# Looking fields up ---------------------------------------------------------------------------


def writable_fields(app: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The app's fields that exist (Podio keeps deleted ones, with status ``deleted``)."""
    return [
        f
        for f in app.get("fields") or []
        if isinstance(f, Mapping) and f.get("status", "active") != "deleted"
    ]


def find_field(app: Mapping[str, Any], key: str | int) -> Mapping[str, Any]:
    """The field ``key`` names: its external id, or its field id (an ``int`` or digits)."""
    return _find(app, _index(app), key)


def _index(app: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The app's fields by external id and by field id (as text)."""
    index: dict[str, Mapping[str, Any]] = {}
    for f in writable_fields(app):
        index.setdefault(str(f.get("field_id")), f)
        index.setdefault(str(f.get("external_id")), f)
    return index


def _find(
    app: Mapping[str, Any], index: Mapping[str, Mapping[str, Any]], key: Any
) -> Mapping[str, Any]:
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise InvalidFieldValue(repr(key), "a field is named by its external id or field id")
    text = str(key)
    found = index.get(text)
    if found is not None:
        return found
    if text in ITEM_ATTRIBUTES:
        raise InvalidFieldValue(text, "Podio sets this itself; it is not a field you can write")
    names = ", ".join(str(f.get("external_id")) for f in writable_fields(app))
    raise InvalidFieldValue(
        text, f"app {app.get('app_id')} has no such field (its fields: {names or 'none'})"
    )


# The encoder ---------------------------------------------------------------------------------


def encode_fields(app: Mapping[str, Any], values: Mapping[Any, Any]) -> dict[str, Any]:
    """``{field: value}`` → the ``fields`` object of a create or update, keyed by field id.

    Field ids rather than external ids: they never change, so a field renamed in Podio
    cannot silently receive another field's value.
    """
    if not isinstance(values, Mapping):
        raise TypeError("fields must be a mapping of external ids (or field ids) to values")
    encoded: dict[str, Any] = {}
    index = _index(app)
    for key, value in values.items():
        f = _find(app, index, key)
        field_id = str(f.get("field_id"))
        if field_id in encoded:
            raise _invalid(f, "given twice (by its external id and by its field id)")
        encoded[field_id] = encode_value(f, value)
    return encoded


def encode_value(field: Mapping[str, Any], value: Any) -> Any:
    """One field's value in the shape Podio's writes take; :class:`InvalidFieldValue` if the
    field cannot take it (or cannot be written at all)."""
    ftype = str(field.get("type") or "")
    if ftype in READ_ONLY_TYPES:
        raise _invalid(field, "Podio computes calculation fields; they cannot be written")
    encoder = ENCODERS.get(ftype)
    if encoder is None:
        raise _invalid(field, f"django-podio cannot write {ftype or 'untyped'} fields")
    if _empty(value):
        return []
    try:
        return encoder(value, _settings(field))
    except _Bad as bad:
        raise _invalid(field, str(bad), user_message=bad.user) from None


def _invalid(field: Mapping[str, Any], reason: str, user_message: Any = None) -> InvalidFieldValue:
    config = field.get("config") or {}
    return InvalidFieldValue(
        str(field.get("external_id") or field.get("field_id")),
        redact(reason),
        label=str(config.get("label") or field.get("label") or ""),
        field_type=str(field.get("type") or ""),
        user_message=user_message,
    )


def _settings(field: Mapping[str, Any]) -> Mapping[str, Any]:
    settings = (field.get("config") or {}).get("settings")
    if settings is None:
        settings = field.get("settings")
    return settings if isinstance(settings, Mapping) else {}


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value == ""
    return isinstance(value, (list, tuple, set, frozenset)) and len(value) == 0


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kind(value: Any) -> str:
    return type(value).__name__


def _several(value: Any, *, pairs: bool = False) -> list[Any]:
    """A multi-valued field's values: a list (or set, or tuple) of them, or one on its own.

    With ``pairs``, a tuple is one ``(type, value)`` value, not two values.
    """
    if isinstance(value, (list, set, frozenset)):
        return list(value)
    if isinstance(value, tuple) and not pairs and not hasattr(value, "_fields"):
        return list(value)
    return [value]


def _one_of_many(values: list[Any], settings: Mapping[str, Any], what: str) -> None:
    if settings.get("multiple") is False and len(values) > 1:
        raise _Bad(f"takes one {what}, not {len(values)}")


def _unique(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise _Bad(f"needs a number (int, float or Decimal), not {_kind(value)} {_short(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Bad(f"needs a finite number, not {value!r}")
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise _Bad(f"needs a finite number, not {value!r}")
    return number


def _number_text(number: Decimal) -> str:
    return format(number, "f")


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(f"needs {what} (an int), not {_kind(value)} {_short(value)}")
    return value


def _id(value: Any, what: str) -> int:
    number = _int(value, what)
    if number <= 0:
        raise _Bad(f"needs {what} (a positive int), not {number}")
    return number


# One encoder per type --------------------------------------------------------------------------


def _text(value: Any, settings: Mapping[str, Any]) -> str:
    if not isinstance(value, str):
        raise _Bad(f"needs a str, not {_kind(value)}")
    return str(value)


def _number(value: Any, settings: Mapping[str, Any]) -> str:
    return _number_text(_decimal(value))


def _money(value: Any, settings: Mapping[str, Any]) -> dict[str, str]:
    allowed = [str(c) for c in settings.get("allowed_currencies") or []]
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise _Bad(f'needs (amount, currency), e.g. (Decimal("10.00"), "EUR"), not {value!r}')
        amount, currency = value
    else:
        amount, currency = value, None
        if len(allowed) != 1:
            choices = ", ".join(allowed) or "any currency"
            raise _Bad(
                f"allows {choices}: give the amount with its currency, "
                f'e.g. Money(Decimal("10.00"), "{allowed[0] if allowed else "EUR"}")'
            )
        currency = allowed[0]
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise _Bad(f"needs a currency code such as 'EUR', not {_short(currency)}")
    if allowed and currency not in allowed:
        raise _Bad(f"does not allow {currency} (it allows {', '.join(allowed)})")
    return {"value": _number_text(_decimal(amount)), "currency": currency}


def _date(value: Any, settings: Mapping[str, Any]) -> dict[str, str]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise _Bad(f"needs a date, a datetime or (start, end), not {len(value)} values")
        start, end = value
    else:
        start, end = value, None
    if start is None:
        raise _Bad("needs a start")
    timed = _date_kind(start)
    if end is not None and _date_kind(end) != timed:
        raise _Bad("start and end must both be dates or both be datetimes")
    time_rule = settings.get("time") or "enabled"
    end_rule = settings.get("end") or "enabled"
    if timed and time_rule == "disabled":
        raise _Bad("takes dates without a time: give a date, not a datetime")
    if not timed and time_rule == "required":
        raise _Bad("needs a time: give an aware datetime, not a date")
    if end is not None and end_rule == "disabled":
        raise _Bad("has no end date: give one date, not (start, end)")
    if end is None and end_rule == "required":
        raise _Bad("needs an end: give (start, end)")
    if end is not None and end < start:
        raise _Bad(f"ends ({end}) before it starts ({start})", _("The end is before the start."))
    if not timed:
        encoded = {"start_date": start.isoformat()}
        if end is not None:
            encoded["end_date"] = end.isoformat()
        return encoded
    encoded = {"start_utc": start.astimezone(UTC).strftime(PODIO_TIME_FORMAT)}
    if end is not None:
        encoded["end_utc"] = end.astimezone(UTC).strftime(PODIO_TIME_FORMAT)
    return encoded


def _date_kind(value: Any) -> bool:
    """True for an aware datetime, False for a date; anything else is refused."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise _Bad(
                f"needs an aware datetime (which time zone is {value.isoformat()} in?): "
                "use django.utils.timezone.make_aware()"
            )
        return True
    if isinstance(value, date):
        return False
    raise _Bad(f"needs a date or an aware datetime, not {_kind(value)} {_short(value)}")


def _category(value: Any, settings: Mapping[str, Any]) -> list[int]:
    options = [o for o in settings.get("options") or [] if o.get("status", "active") == "active"]
    ids: list[int] = []
    for one in _several(value):
        found = next((option for option in options if _is_option(option, one)), None)
        if found is None:
            texts = ", ".join(repr(o.get("text")) for o in options) or "none"
            raise _Bad(f"has no option {_short(one)} (its options: {texts})")
        ids.append(int(found["id"]))
    ids = _unique(ids)
    _one_of_many(ids, settings, "option")
    return ids


def _is_option(option: Mapping[str, Any], value: Any) -> bool:
    """An option named by its text (a ``str``) or its id (an ``int``)."""
    if isinstance(value, str):
        return option.get("text") == value
    return isinstance(value, int) and not isinstance(value, bool) and option.get("id") == value


def _app(value: Any, settings: Mapping[str, Any]) -> list[int]:
    referenced = {
        int(r["app_id"])
        for r in settings.get("referenced_apps") or []
        if isinstance(r, Mapping) and r.get("app_id") is not None
    }
    ids = []
    for one in _several(value):
        if isinstance(one, ItemRef):
            if referenced and one.app_id is not None and int(one.app_id) not in referenced:
                raise _Bad(f"item {one.item_id} is in app {one.app_id}, which it cannot refer to")
            one = one.item_id
        ids.append(_id(one, "an item id"))
    ids = _unique(ids)
    _one_of_many(ids, settings, "item")
    return ids


def _contact(value: Any, settings: Mapping[str, Any]) -> list[int]:
    ids = []
    for one in _several(value):
        if isinstance(one, Contact):
            if one.profile_id is None:
                raise _Bad(f"contact {one.name!r} has no profile id")
            one = one.profile_id
        ids.append(_id(one, "a profile id"))
    return _unique(ids)


def _member(value: Any, settings: Mapping[str, Any]) -> list[int]:
    ids = []
    for one in _several(value):
        if isinstance(one, Contact):
            if one.user_id is None:
                raise _Bad(f"{one.name!r} is not a Podio user (no user id)")
            one = one.user_id
        ids.append(_id(one, "a user id"))
    return _unique(ids)


def _typed(kind: str, defaults: tuple[str, ...], check: Callable[[str], None]) -> Any:
    def encode(value: Any, settings: Mapping[str, Any]) -> list[dict[str, str]]:
        allowed = [str(t) for t in settings.get("possible_types") or defaults]
        default = "work" if "work" in allowed else allowed[0]
        encoded = []
        for one in _several(value, pairs=True):
            if isinstance(one, TypedValue):
                label, text = one.type or default, str(one)
            elif isinstance(one, tuple) and len(one) == 2:
                label, text = one
            elif isinstance(one, str):
                label, text = default, one
            else:
                raise _Bad(f"needs a str or (type, {kind}), not {_kind(one)} {_short(one)}")
            if not isinstance(text, str) or not text.strip():
                raise _Bad(f"needs a non-empty {kind}")
            if label not in allowed:
                raise _Bad(f"has no type {label!r} (its types: {', '.join(allowed)})")
            check(text.strip())
            encoded.append({"type": str(label), "value": text.strip()})
        return encoded

    return encode


def _check_email(text: str) -> None:
    try:
        _email(text)
    except ValidationError:
        raise _Bad(
            f"{_short(text)} is not an e-mail address", _("Enter a valid email address.")
        ) from None


def _check_phone(text: str) -> None:
    if len(text) > 50 or not _PHONE.match(text):
        raise _Bad(f"{_short(text)} is not a phone number", _("Enter a valid phone number."))


def _embed(value: Any, settings: Mapping[str, Any]) -> list[Any]:
    encoded: list[Any] = []
    for one in _several(value):
        if not isinstance(one, str):
            raise _Bad(f"needs a URL (str), not {_kind(one)}")
        try:
            _url(str(one))
        except ValidationError:
            raise _Bad(
                f"{_short(str(one))} is not an http(s) URL", _("Enter an http or https address.")
            ) from None
        if isinstance(one, Link) and one.embed_id is not None:
            encoded.append({"embed": int(one.embed_id), "file": None})
        else:
            encoded.append(NewLink(str(one)))
    return encoded


def _location(value: Any, settings: Mapping[str, Any]) -> dict[str, str]:
    if not isinstance(value, str):
        raise _Bad(f"needs an address (str), not {_kind(value)}")
    if not value.strip():
        raise _Bad("needs an address", _("Enter an address."))
    return {"value": value.strip()}


def _progress(value: Any, settings: Mapping[str, Any]) -> int:
    number = _int(value, "a percentage")
    if not 0 <= number <= 100:
        raise _Bad(f"must be from 0 to 100, not {number}", _("Enter a percentage from 0 to 100."))
    return number


def _duration(value: Any, settings: Mapping[str, Any]) -> int:
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        if seconds != int(seconds):
            raise _Bad(
                f"is kept in whole seconds, not {seconds}", _("Enter whole seconds, no fractions.")
            )
        value = int(seconds)
    number = _int(value, "a timedelta or seconds")
    if number < 0:
        raise _Bad(
            f"cannot be negative ({number} seconds)", _("Enter a duration that is not negative.")
        )
    return number


def _files(value: Any, settings: Mapping[str, Any]) -> list[int]:
    ids = []
    for one in _several(value):
        if isinstance(one, FileRef):
            one = one.file_id
        ids.append(_id(one, "a file id (from PodioClient.upload_file)"))
    return _unique(ids)


ENCODERS: dict[str, Callable[[Any, Mapping[str, Any]], Any]] = {
    "text": _text,
    "number": _number,
    "money": _money,
    "date": _date,
    "category": _category,
    "app": _app,
    "contact": _contact,
    "member": _member,
    "email": _typed("e-mail address", EMAIL_TYPES, _check_email),
    "phone": _typed("phone number", PHONE_TYPES, _check_phone),
    "embed": _embed,
    "location": _location,
    "progress": _progress,
    "duration": _duration,
    "image": _files,
    "file": _files,
}

__all__ = [
    "NewLink",
    "encode_fields",
    "encode_value",
    "find_field",
    "writable_fields",
]
