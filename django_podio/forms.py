"""``PodioItemForm``: a Django form built from a Podio app's fields, that writes an item.

Like a ``ModelForm`` for a Podio app: the fields come from the app's field definitions
(labels, ``required``, help texts, category choices, a widget per type; a subset by external
id with ``Meta.fields``), values are validated by the same encoder as every write
(:mod:`django_podio.encoding`), and ``save()`` creates the item or, bound to one, updates it::

    class ContactForm(PodioItemForm):
        class Meta:
            app_id = 12345
            fields = ["title", "email", "status"]

    form = ContactForm(request.POST or None, client=get_client(app_id=12345))
    if form.is_valid():
        form.save()

Two promises a browser makes hard, kept with a signed hidden field (``podio_token``):

* **a create happens once**, even when the form is sent twice (a double click, a reload
  after a timeout): the token holds the submission's external id, chosen when the form was
  first shown; ``save()`` returns the item already made for it instead of making another;
* **an update does not overwrite what changed meanwhile**: the token holds the revision the
  user saw, and only the fields the user changed are written with it, so Podio refuses
  (``Conflict``, shown as a form error) when one of those changed since.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django import forms
from django.core import signing
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from .api.items import answer_from_item
from .encoding import READ_ONLY_TYPES, encode_value, writable_fields
from .exceptions import Conflict, InvalidFieldValue, NotFound
from .formfields import formfield_for
from .values import DateRange, Money, item_values

if TYPE_CHECKING:
    from .api.client import PodioClient

TOKEN_FIELD = "podio_token"  # noqa: S105 - a field name, not a secret
TOKEN_SALT = "django_podio.forms.PodioItemForm"  # noqa: S105 - a signing salt (public)
#: How long a shown form may wait before it is sent (seconds).
TOKEN_MAX_AGE = 24 * 3600
#: How long a second request for the same submission waits for the first one's item (a
#: create's read timeout, by default).
DUPLICATE_WAIT = 30.0
CONFLICT_MESSAGE = _(
    "Someone changed this item in Podio since you opened it. Reload the page to see their "
    "changes, then make yours again."
)


class _TokenField(forms.CharField):
    """The hidden submission token: never a change the user made.

    A token is signed with the time it was made, so the one a bound form makes for its
    ``initial`` differs from the one the page was shown with whenever a second has passed;
    it must not appear in ``changed_data`` (nor make ``has_changed()`` true).
    """

    def has_changed(self, initial: Any, data: Any) -> bool:
        return False


class PodioItemForm(forms.Form):
    """A form for one Podio app's items; see the module docstring.

    ``client``: a :class:`~django_podio.api.client.PodioClient` (``get_client(...)``);
    ``app_id``: the app (else ``Meta.app_id``, else the bound item's); ``item``: the item to
    update (as ``client.get_item`` returns it, or a cached ``PodioItem.data``).
    """

    class Meta:
        app_id: int | None = None
        fields: Sequence[str] | None = None  # external ids; None: every writable field
        exclude: Sequence[str] = ()
        widgets: Mapping[str, Any] = {}
        labels: Mapping[str, str] = {}
        help_texts: Mapping[str, str] = {}

    def __init__(
        self,
        data: Any = None,
        files: Any = None,
        *,
        client: PodioClient,
        app_id: int | None = None,
        item: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.client = client
        self.item = item
        meta = getattr(self, "Meta", PodioItemForm.Meta)
        app_id = app_id or getattr(meta, "app_id", None)
        if app_id is None and item is not None:
            app_id = (item.get("app") or {}).get("app_id")
        if app_id is None:
            raise ImproperlyConfigured(f"{type(self).__name__} needs an app_id (or Meta.app_id)")
        self.app_id = int(app_id)
        self.app = client.get_app(self.app_id)
        self.definitions = self._chosen_definitions(meta)
        initial = dict(kwargs.pop("initial", None) or {})
        if item is not None:
            for name, value in item_values(item).items():
                if name in self.definitions:
                    initial.setdefault(name, _initial(self.definitions[name], value))
        initial.setdefault(TOKEN_FIELD, self._new_token())
        super().__init__(data, files, initial=initial, **kwargs)
        for name, definition in self.definitions.items():
            field = formfield_for(definition)
            assert field is not None  # _chosen_definitions keeps writable types only
            if name in getattr(meta, "widgets", {}):
                field.widget = meta.widgets[name]
            if name in getattr(meta, "labels", {}):
                field.label = meta.labels[name]
            if name in getattr(meta, "help_texts", {}):
                field.help_text = meta.help_texts[name]
            self.fields[name] = field
        self.fields[TOKEN_FIELD] = _TokenField(widget=forms.HiddenInput, required=False)
        self._external_id: str | None = None
        self._revision: int | None = None

    # ------------------------------------------------------------------ building
    def _chosen_definitions(self, meta: Any) -> dict[str, Mapping[str, Any]]:
        by_name = {str(f.get("external_id")): f for f in writable_fields(self.app)}
        wanted = getattr(meta, "fields", None)
        excluded = set(getattr(meta, "exclude", ()) or ())
        if wanted is None:
            chosen = [
                name
                for name, f in sorted(
                    by_name.items(), key=lambda pair: (pair[1].get("config") or {}).get("delta", 0)
                )
                if formfield_for(f) is not None and not (f.get("config") or {}).get("hidden")
            ]
        else:
            chosen = list(wanted)
            for name in chosen:
                if name not in by_name:
                    raise ImproperlyConfigured(
                        f"{type(self).__name__}.Meta.fields names {name!r}, which app "
                        f"{self.app_id} does not have (its fields: {', '.join(by_name)})"
                    )
                if (
                    by_name[name].get("type") in READ_ONLY_TYPES
                    or formfield_for(by_name[name]) is None
                ):
                    raise ImproperlyConfigured(
                        f"{type(self).__name__}.Meta.fields names {name!r}, a "
                        f"{by_name[name].get('type')} field, which a form cannot write"
                    )
        return {name: by_name[name] for name in chosen if name not in excluded}

    def _new_token(self) -> str:
        if self.item is not None:
            payload: dict[str, Any] = {
                "i": int(self.item["item_id"]),
                "r": int(self.item.get("revision") or 0),
            }
        else:
            payload = {"a": self.app_id, "x": uuid.uuid4().hex}
        return signing.dumps(payload, salt=TOKEN_SALT)

    # ------------------------------------------------------------------ validating
    def clean_podio_token(self) -> str:
        token = self.cleaned_data.get(TOKEN_FIELD) or ""
        if not token:  # a form sent without it (not from the rendered page): a fresh one
            token = self._new_token()
        try:
            payload = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
        except signing.SignatureExpired:
            raise ValidationError(_("This form is too old: reload the page."), code="expired")
        except signing.BadSignature:
            raise ValidationError(_("This form was changed: reload the page."), code="tampered")
        if self.item is not None:
            if payload.get("i") != int(self.item["item_id"]):
                raise ValidationError(_("This form belongs to another item."), code="tampered")
            self._revision = int(payload["r"])
        else:
            if payload.get("a") != self.app_id or not payload.get("x"):
                raise ValidationError(_("This form belongs to another app."), code="tampered")
            self._external_id = f"django-podio-form:{payload['x']}"
        return token

    def _post_clean(self) -> None:
        """Each value through the encoder every write uses: what Podio would refuse is a
        form error here, on its field."""
        for name, definition in self.definitions.items():
            if name not in self.cleaned_data or _is_upload(self.cleaned_data[name]):
                continue
            try:
                encode_value(definition, self.cleaned_data[name])
            except InvalidFieldValue as error:
                message = error.user_message or error.reason  # a person's words, if any
                self.add_error(name, ValidationError(message, code="podio"))

    # ------------------------------------------------------------------ saving
    def podio_values(self) -> dict[str, Any]:
        """``{external_id: value}`` to write: for a create, every field given; for an
        update, the fields the user changed. Files are uploaded here."""
        values = {}
        for name in self.definitions:
            if self.item is not None and name not in self.changed_data:
                continue
            value = self.cleaned_data.get(name)
            if self.item is None and value in (None, "", []):
                continue
            if isinstance(value, UploadedFile):
                value = self.client.upload_file(value.name or "upload", value.read())
            values[name] = value
        return values

    def save(self) -> dict[str, Any]:
        """Create the item (once per shown form) or update the bound item; Podio's answer
        (``item_id``, ``revision`` …).

        On a :class:`~django_podio.exceptions.Conflict` the form gets an error saying so
        (render it again) and the exception is raised. A form sent again while its first
        sending is still being saved waits for that one's item (``DUPLICATE_WAIT`` seconds
        at most, then ``TimeoutError``); requests served by other processes see each other
        only through a cache they share (Django's ``default`` cache), else through Podio
        once the first one is saved.
        """
        if self.errors:
            raise ValueError(f"{type(self).__name__} did not validate; it cannot be saved")
        if self.item is None:
            return self._create()
        return self._update()

    def _create(self) -> dict[str, Any]:
        external_id = self._external_id
        assert external_id is not None  # set by clean_podio_token
        from django.core.cache import caches

        cache = caches["default"]
        key = f"django_podio:form-create:{external_id}"
        if not cache.add(key, "pending", timeout=int(DUPLICATE_WAIT * 4)):
            return self._await_duplicate(cache, key)
        try:
            try:  # sent before (a reload after a lost answer)?
                answer = answer_from_item(
                    self.client.get_item_by_external_id(self.app_id, external_id)
                )
            except NotFound:
                answer = self.client.create_item(
                    self.app_id, self.podio_values(), external_id=external_id
                )
        except BaseException:
            cache.delete(key)
            raise
        cache.set(key, answer, timeout=TOKEN_MAX_AGE)
        return answer

    def _await_duplicate(self, cache: Any, key: str) -> dict[str, Any]:
        """This very submission is being saved by another request: its answer, once there."""
        deadline = time.monotonic() + DUPLICATE_WAIT
        while time.monotonic() < deadline:
            answer = cache.get(key)
            if isinstance(answer, dict):
                return answer
            if answer is None:  # the other request failed: try ourselves
                return self._create()
            time.sleep(0.1)
        raise TimeoutError("The same form is still being saved by another request")

    def _update(self) -> dict[str, Any]:
        assert self.item is not None
        item_id = int(self.item["item_id"])
        values = self.podio_values()
        if not values:
            return {"item_id": item_id, "revision": None, "changed": False}
        try:
            return self.client.update_item(item_id, values, revision=self._revision)
        except Conflict:
            self.add_error(None, ValidationError(CONFLICT_MESSAGE, code="conflict"))
            raise


def _is_upload(value: Any) -> bool:
    return isinstance(value, UploadedFile)


def _initial(definition: Mapping[str, Any], value: Any) -> Any:
    """A value as read (:func:`~django_podio.values.item_values`) as its form field shows it."""
    ftype = definition.get("type")
    settings = (definition.get("config") or {}).get("settings") or {}
    if ftype == "category":
        ids = [
            int(o["id"])
            for text in value or []
            for o in settings.get("options") or []
            if o.get("text") == text
        ]
        return ids if settings.get("multiple") else (ids[0] if ids else None)
    if ftype == "member":
        return [getattr(v, "user_id", v) for v in value or []]
    if ftype == "money" and isinstance(value, Money):
        currencies = settings.get("allowed_currencies") or ["EUR"]
        return value.amount if len(currencies) == 1 else value
    if ftype == "date" and isinstance(value, DateRange):
        return value.start if value.end is None else value
    if ftype in ("email", "phone", "embed"):
        return str(value[0]) if value else None
    if ftype in ("image", "file"):
        return None  # an upload replaces it; left empty, it stays as it is
    return value


__all__ = ["PodioItemForm"]
