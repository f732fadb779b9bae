"""Django form fields for Podio field types: one ``formfield_for(definition)`` per field.

Each gives the Python value :mod:`django_podio.encoding` takes for its type, so a form's
``cleaned_data`` can be written as it is. Labels, ``required``, help texts, category choices
and widgets come from the Podio field's definition (its ``config``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .values import Contact, DateRange, ItemRef, Money

#: Podio field types a form can hold (calculation fields are computed by Podio).
FORM_TYPES = frozenset(
    {
        "text",
        "number",
        "money",
        "date",
        "category",
        "app",
        "contact",
        "member",
        "email",
        "phone",
        "embed",
        "location",
        "progress",
        "duration",
        "image",
        "file",
    }
)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%H:%M")


#: What an :class:`IdsField` asks for, per kind of id: its errors and its default help text.
IDS_MESSAGES = {
    "item": {
        "invalid": _("Enter item ids (numbers) separated by commas."),
        "one": _("Enter one item id."),
        "help": _("Podio item ids, separated by commas."),
    },
    "profile": {
        "invalid": _("Enter profile ids (numbers) separated by commas."),
        "one": _("Enter one profile id."),
        "help": _("Podio profile ids, separated by commas."),
    },
    "user": {
        "invalid": _("Enter user ids (numbers) separated by commas."),
        "one": _("Enter one user id."),
        "help": _("Podio user ids, separated by commas."),
    },
}
#: An :class:`IdsField` for another kind of id (``what`` is only a key into the above).
IDS_MESSAGES_OTHER = {
    "invalid": _("Enter ids (numbers) separated by commas."),
    "one": _("Enter one id."),
    "help": _("Podio ids, separated by commas."),
}


class IdsField(forms.Field):
    """Podio ids (items, profiles, users), typed as numbers separated by commas."""

    widget = forms.TextInput

    def __init__(self, *, what: str, multiple: bool = True, **kwargs: Any) -> None:
        self.what = what
        self.messages = IDS_MESSAGES.get(what, IDS_MESSAGES_OTHER)
        self.multiple = multiple
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, (list, tuple)) and not isinstance(value, str):
            return ", ".join(str(_id_of(v)) for v in value)
        return value

    def to_python(self, value: Any) -> list[int]:
        if isinstance(value, (list, tuple)):
            value = self.prepare_value(value)
        ids = []
        for part in (p.strip() for p in str(value or "").split(",")):
            if not part:
                continue
            if not part.isdigit() or int(part) <= 0:
                raise ValidationError(self.messages["invalid"], code="invalid")
            ids.append(int(part))
        if not self.multiple and len(ids) > 1:
            raise ValidationError(self.messages["one"], code="one")
        return ids

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.to_python(self.prepare_value(initial)) != self.to_python(data)
        except ValidationError:
            return True


def _id_of(value: Any) -> Any:
    if isinstance(value, ItemRef):
        return value.item_id
    if isinstance(value, Contact):
        return value.profile_id
    return value


class MoneyWidget(forms.MultiWidget):
    def __init__(self, currencies: Sequence[str], attrs: dict[str, Any] | None = None) -> None:
        widgets = [
            forms.NumberInput(attrs={"step": "any"}),
            forms.Select(choices=[(c, c) for c in currencies]),
        ]
        super().__init__(widgets, attrs)

    def decompress(self, value: Any) -> list[Any]:
        if isinstance(value, (tuple, list)) and len(value) == 2:
            return [value[0], value[1]]
        return [None, None]


class MoneyField(forms.MultiValueField):
    """An amount and one of the field's currencies: a :class:`~django_podio.values.Money`."""

    def __init__(self, currencies: Sequence[str], **kwargs: Any) -> None:
        fields = (
            forms.DecimalField(required=False),
            forms.ChoiceField(choices=[(c, c) for c in currencies], required=False),
        )
        kwargs.setdefault("widget", MoneyWidget(currencies))
        super().__init__(fields, require_all_fields=False, **kwargs)

    def compress(self, data_list: list[Any]) -> Money | None:
        if not data_list or data_list[0] in (None, ""):
            return None
        if not data_list[1]:
            raise ValidationError(_("Choose a currency."), code="currency")
        return Money(Decimal(data_list[0]), str(data_list[1]))


class PodioDateWidget(forms.MultiWidget):
    def __init__(self, *, timed: bool, ranged: bool, attrs: dict[str, Any] | None = None):
        self.timed, self.ranged = timed, ranged
        widgets: list[forms.Widget] = []
        for _side in ("start", "end") if ranged else ("start",):
            widgets.append(DateInput())
            if timed:
                widgets.append(TimeInput())
        super().__init__(widgets, attrs)

    def decompress(self, value: Any) -> list[Any]:
        start, end = (
            (value if isinstance(value, tuple) else (value, None)) if value else (None, None)
        )
        parts = self._side(start)
        if self.ranged:
            parts += self._side(end)
        return parts

    def _side(self, value: Any) -> list[Any]:
        if isinstance(value, datetime):
            local = timezone.localtime(value)
            return [local.date(), local.time()] if self.timed else [local.date()]
        return [value, None] if self.timed else [value]


#: A date field's errors about one side (start or end) of its value.
DATE_MESSAGES = {
    "start": {"day": _("Give the start date of the time."), "time": _("Give a start time.")},
    "end": {"day": _("Give the end date of the time."), "time": _("Give an end time.")},
}


class PodioDateField(forms.MultiValueField):
    """A date field of Podio: a day, with a time where the field has one (in the current
    time zone), and an end where the field has one. Gives a ``date``, an aware ``datetime``
    or a ``(start, end)`` pair, as the encoder takes them."""

    def __init__(self, *, time_rule: str, end_rule: str, **kwargs: Any) -> None:
        self.timed = time_rule != "disabled"
        self.ranged = end_rule != "disabled"
        self.time_required = time_rule == "required"
        self.end_required = end_rule == "required"
        fields: list[forms.Field] = []
        for _side in ("start", "end") if self.ranged else ("start",):
            fields.append(forms.DateField(required=False))
            if self.timed:
                fields.append(forms.TimeField(required=False))
        kwargs.setdefault("widget", PodioDateWidget(timed=self.timed, ranged=self.ranged))
        super().__init__(tuple(fields), require_all_fields=False, **kwargs)

    def compress(self, data_list: list[Any]) -> Any:
        if not data_list:
            return None
        width = 2 if self.timed else 1
        start = self._moment(data_list[:width], "start")
        end = self._moment(data_list[width:], "end") if self.ranged else None
        if start is None:
            if end is not None:
                raise ValidationError(_("Give a start date."), code="start")
            return None
        if end is not None and isinstance(start, datetime) != isinstance(end, datetime):
            raise ValidationError(
                _("Give both the start and the end a time, or neither."), code="times"
            )
        if end is None and self.end_required:
            raise ValidationError(_("Give an end date."), code="end")
        return start if end is None else DateRange(start, end)

    def _moment(self, parts: list[Any], side: str) -> date | datetime | None:
        day = parts[0] if parts else None
        clock = parts[1] if len(parts) > 1 else None
        if day in (None, ""):
            if clock not in (None, ""):
                raise ValidationError(DATE_MESSAGES[side]["day"], code="day")
            return None
        if clock in (None, ""):
            if self.time_required:
                raise ValidationError(DATE_MESSAGES[side]["time"], code="time")
            return day
        assert isinstance(clock, time)
        return timezone.make_aware(datetime.combine(day, clock))


def _choices(settings: Mapping[str, Any]) -> list[tuple[int, str]]:
    return [
        (int(o["id"]), str(o.get("text") or o["id"]))
        for o in settings.get("options") or []
        if o.get("status", "active") == "active"
    ]


def formfield_for(definition: Mapping[str, Any]) -> forms.Field | None:
    """The form field for one Podio field definition; ``None`` for types a form cannot
    write (calculation, and types django-podio does not know)."""
    ftype = str(definition.get("type") or "")
    if ftype not in FORM_TYPES:
        return None
    config = definition.get("config") or {}
    settings = config.get("settings") or {}
    common: dict[str, Any] = {
        "label": config.get("label") or definition.get("label") or definition.get("external_id"),
        "required": bool(config.get("required")),
        "help_text": config.get("description") or "",
    }
    if ftype == "text":
        large = settings.get("size") == "large" or settings.get("format") in ("html", "markdown")
        return forms.CharField(widget=forms.Textarea if large else forms.TextInput, **common)
    if ftype == "number":
        return forms.DecimalField(decimal_places=4, **common)
    if ftype == "money":
        currencies = [str(c) for c in settings.get("allowed_currencies") or ["EUR"]]
        if len(currencies) == 1:
            common["label"] = f"{common['label']} ({currencies[0]})"
            return forms.DecimalField(decimal_places=4, **common)
        return MoneyField(currencies, **common)
    if ftype == "date":
        time_rule = str(settings.get("time") or "enabled")
        end_rule = str(settings.get("end") or "enabled")
        if time_rule == "disabled" and end_rule == "disabled":
            return forms.DateField(widget=DateInput, **common)
        return PodioDateField(time_rule=time_rule, end_rule=end_rule, **common)
    if ftype == "category":
        choices = _choices(settings)
        if settings.get("multiple"):
            return forms.TypedMultipleChoiceField(
                choices=choices, coerce=int, widget=forms.CheckboxSelectMultiple, **common
            )
        widget = forms.RadioSelect if settings.get("display") == "inline" else forms.Select
        empty: list[tuple[Any, str]] = [] if widget is forms.RadioSelect else [("", "---------")]
        return forms.TypedChoiceField(
            choices=empty + choices, coerce=int, empty_value=None, widget=widget, **common
        )
    if ftype in ("app", "contact", "member"):
        what = {"app": "item", "contact": "profile", "member": "user"}[ftype]
        multiple = settings.get("multiple", True) is not False
        common["help_text"] = common["help_text"] or IDS_MESSAGES[what]["help"]
        return IdsField(what=what, multiple=multiple, **common)
    if ftype == "email":
        return forms.EmailField(**common)
    if ftype == "phone":
        return forms.CharField(widget=forms.TextInput(attrs={"type": "tel"}), **common)
    if ftype == "embed":
        return forms.URLField(assume_scheme="https", **common)
    if ftype == "location":
        return forms.CharField(**common)
    if ftype == "progress":
        return forms.IntegerField(
            min_value=0, max_value=100, widget=forms.NumberInput(attrs={"step": 1}), **common
        )
    if ftype == "duration":
        common["help_text"] = common["help_text"] or _("Hours, minutes and seconds: 1:30:00.")
        return forms.DurationField(**common)
    attrs = {"accept": "image/*"} if ftype == "image" else {}
    return forms.FileField(widget=forms.ClearableFileInput(attrs=attrs), **common)
