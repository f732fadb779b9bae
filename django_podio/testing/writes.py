"""The fake's writes through the API, as Podio does them (``podio-api.md`` §4.5).

* Values are checked per field type and refused with Podio's 400 ``invalid_value`` in its
  wording, ``Invalid value <json> (<json type>): <rule>``: it does not name the field
  (Podio's does not), so a client has to.
* Revisions: a create is revision 0, each update that changes something +1; an update that
  changes nothing answers 204 and makes no revision (and fires no hook). An update naming a
  ``revision`` is refused with 409 when a field it writes changed after that revision.
* ``hook=false`` fires no webhook; ``silent`` leaves :attr:`stream` (what Podio shows in
  activity streams and notifications) alone.
* Comments (``comment.create`` hooks), uploaded files (temporary until a field or item uses
  them) and embeds (link fields) exist to be written and read back.

The Python methods of :mod:`.items` (``add_item``, ``update_item``) stay lenient: they are
how tests and the demo play a person using Podio's UI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .records import ApiError, FakeApp, FakeItem, fmt_ts

if TYPE_CHECKING:
    from .shape import StateShape
else:
    StateShape = object

MAX_UPLOAD_BYTES = 100 * 1024 * 1024  # DOC/files


@dataclass
class FakeFile:
    file_id: int
    name: str
    mimetype: str
    data: bytes = field(repr=False)
    created_by: tuple[str, int]
    created_on: float
    #: ``(ref_type, ref_id)`` once attached; uploads are temporary until then.
    attached_to: tuple[str, int] | None = None


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def invalid(value: Any, rule: str) -> ApiError:
    """Podio's answer to a bad value: it says what and why, never which field."""
    shown = json.dumps(value, ensure_ascii=False, default=str)
    return ApiError(400, "invalid_value", f"Invalid value {shown} ({json_type(value)}): {rule}")


def _unwrap(value: Any) -> Any:
    """``{"value": x}`` → ``x``: the documented wrapper around most types' values."""
    if isinstance(value, dict) and "value" in value:
        return value["value"]
    return value


class WriteState(StateShape):
    """Part of :class:`~.state.PodioState`: item writes through the API, comments, files."""

    files: dict[int, FakeFile]
    embeds: dict[int, dict[str, Any]]
    _comments: dict[int, list[dict[str, Any]]]
    stream: list[tuple[str, int]]

    def _init_writes(self) -> None:
        self.files: dict[int, FakeFile] = {}
        self.embeds: dict[int, dict[str, Any]] = {}
        self._comments: dict[int, list[dict[str, Any]]] = {}
        #: ``(event, item_id)`` of every write that was not ``silent``.
        self.stream: list[tuple[str, int]] = []
        for kind, first in (("comment", 700000001), ("file", 400000001), ("embed", 600000001)):
            self._ids.setdefault(kind, first)

    # ------------------------------------------------------------------ items
    def api_create_item(
        self,
        app_id: int,
        body: dict[str, Any],
        *,
        created_by: tuple[str, int],
        hook: bool = True,
        silent: bool = False,
    ) -> FakeItem:
        """``POST /item/app/{app_id}/``: checked like Podio, then created at revision 0."""
        with self._lock:
            app = self.get_app(app_id)
            fields = self._written_fields(app, body)
            external_id = self._external_id(body)
            self._check_file_ids(body.get("file_ids"))
            item = self._create_item(
                app.app_id,
                fields,
                external_id=external_id,
                created_by=created_by,
                tags=body.get("tags"),
                hook=hook,
            )
            self._attach(body.get("file_ids"), item)
            self._note(item, "item.create", silent)
            return item

    def api_update_item(
        self, item_id: int, body: dict[str, Any], *, hook: bool = True, silent: bool = False
    ) -> FakeItem | None:
        """``PUT /item/{item_id}``: the item, or None when nothing changed (Podio's 204)."""
        with self._lock:
            item = self.get_item(item_id)
            app = self.apps[item.app_id]
            fields = self._written_fields(app, body)
            revision = body.get("revision")
            if revision is not None:
                if isinstance(revision, bool) or not isinstance(revision, int) or revision < 0:
                    raise invalid(revision, "must be a non-negative integer")
                changed_since = sorted(
                    key for key in fields if item.field_revisions.get(key, 0) > revision
                )
                if changed_since:
                    raise ApiError(
                        409,
                        "conflict",
                        f"The item has been changed since revision {revision}",
                        parameters={"revision": item.revision},
                    )
            new_values = {
                key: self._normalize(app, self._field(app, key), raw) for key, raw in fields.items()
            }
            changed = [
                key for key, entries in new_values.items() if entries != item.values.get(key, [])
            ]
            external_id = self._external_id(body)
            tags = body.get("tags")
            self._check_file_ids(body.get("file_ids"))
            new_external = external_id is not None and external_id != item.external_id
            new_tags = tags is not None and list(tags) != item.tags
            if not changed and not new_external and not new_tags and not body.get("file_ids"):
                return None
            item.revision += 1
            for key in changed:
                if new_values[key]:
                    item.values[key] = new_values[key]
                else:
                    item.values.pop(key, None)
                item.field_revisions[key] = item.revision
            if new_external:
                item.external_id = external_id
            if new_tags and tags is not None:
                item.tags = list(tags)
            self._attach(body.get("file_ids"), item)
            item.last_edit_on = max(int(self.now()), item.last_edit_on)
            self._items_changed(item.app_id)
            if hook:
                self._item_event("item.update", item)
            self._note(item, "item.update", silent)
            return item

    def api_delete_item(self, item_id: int, *, hook: bool = True, silent: bool = False) -> None:
        """``DELETE /item/{item_id}``: gone; a read afterwards is 410."""
        with self._lock:
            item = self.get_item(item_id)
            del self.apps[item.app_id].items[item.item_id]
            del self._item_index[item.item_id]
            self._deleted_items.add(item.item_id)
            self._items_changed(item.app_id)
            if hook:
                self._item_event("item.delete", item)
            self._note(item, "item.delete", silent)

    def _note(self, item: FakeItem, event: str, silent: bool) -> None:
        if not silent:
            self.stream.append((event, item.item_id))

    @staticmethod
    def _external_id(body: dict[str, Any]) -> str | None:
        value = body.get("external_id")
        if value is None:
            return None
        if isinstance(value, (dict, list, bool)):
            raise invalid(value, "must be string")
        return str(value)

    # ------------------------------------------------------------------ checking values
    def _written_fields(self, app: FakeApp, body: dict[str, Any]) -> dict[str, Any]:
        """The body's ``fields`` by external id, each value checked as Podio checks it."""
        raw_fields = body.get("fields")
        if raw_fields is None:
            return {}
        if isinstance(raw_fields, list):  # the RB/NET/JAVA form: [{"external_id", "values"}]
            pairs = []
            for entry in raw_fields:
                if not isinstance(entry, dict):
                    raise invalid(entry, "must be object")
                key = entry.get("external_id", entry.get("field_id"))
                pairs.append((key, entry.get("values")))
        elif isinstance(raw_fields, dict):
            pairs = list(raw_fields.items())
        else:
            raise invalid(raw_fields, "must be object")
        checked: dict[str, Any] = {}
        for key, raw in pairs:
            f = self._known_field(app, key)
            if f["type"] == "calculation":
                raise ApiError(
                    400,
                    "invalid_value",
                    f"Values cannot be set directly for field with id {f['field_id']}",
                )
            self._check_values(app, f, raw)
            checked[f["external_id"]] = raw
        return checked

    @staticmethod
    def _known_field(app: FakeApp, key: Any) -> dict[str, Any]:
        for f in app.fields:
            if f.get("status") == "deleted":
                continue
            if f["external_id"] == str(key) or str(f["field_id"]) == str(key):
                return f
        raise invalid(str(key), "No field found")

    def _check_values(self, app: FakeApp, f: dict[str, Any], raw: Any) -> None:
        if raw is None or raw == []:
            return
        values = raw if isinstance(raw, list) else [raw]
        settings = f["config"].get("settings") or {}
        ftype = f["type"]
        if ftype in ("category", "app") and settings.get("multiple") is False and len(values) > 1:
            raise invalid(raw, "must have at most 1 value")
        for value in values:
            check = getattr(self, f"_check_{ftype}", None)
            if check is not None:
                check(value, settings)

    @staticmethod
    def _check_text(value: Any, settings: dict[str, Any]) -> None:
        if not isinstance(_unwrap(value), str):
            raise invalid(value, "must be string")

    @staticmethod
    def _number(value: Any) -> Decimal:
        inner = _unwrap(value)
        if isinstance(inner, bool) or not isinstance(inner, (int, float, str)):
            raise invalid(value, "must be number")
        try:
            number = Decimal(str(inner))
        except InvalidOperation:
            raise invalid(value, "must be number") from None
        if not number.is_finite():
            raise invalid(value, "must be number")
        return number

    def _check_number(self, value: Any, settings: dict[str, Any]) -> None:
        self._number(value)

    def _check_money(self, value: Any, settings: dict[str, Any]) -> None:
        if not isinstance(value, dict) or "value" not in value:
            raise invalid(value, "must be object")
        self._number(value["value"])
        currency = value.get("currency")
        allowed = settings.get("allowed_currencies") or []
        if not isinstance(currency, str) or (allowed and currency not in allowed):
            raise invalid(currency, "must be one of " + ", ".join(allowed or ["a currency"]))

    @staticmethod
    def _whole(value: Any, low: int, high: int | None = None) -> None:
        inner = _unwrap(value)
        if isinstance(inner, bool) or not isinstance(inner, int):
            raise invalid(value, "must be integer")
        if inner < low:
            raise invalid(value, f"must not be less than {low}")
        if high is not None and inner > high:
            raise invalid(value, f"must not be greater than {high}")

    def _check_progress(self, value: Any, settings: dict[str, Any]) -> None:
        self._whole(value, 0, 100)

    def _check_duration(self, value: Any, settings: dict[str, Any]) -> None:
        self._whole(value, 0)

    def _check_date(self, value: Any, settings: dict[str, Any]) -> None:
        if not isinstance(value, dict):
            raise invalid(value, "must be object")
        try:
            self._normalize_date(value)
        except (ValueError, TypeError):
            raise invalid(value, "must be a valid date") from None

    @staticmethod
    def _check_category(value: Any, settings: dict[str, Any]) -> None:
        inner = _unwrap(value)
        if isinstance(inner, dict):
            inner = inner.get("id")
        for option in settings.get("options") or []:
            if option.get("status", "active") != "active":
                continue
            if (
                isinstance(inner, int) and not isinstance(inner, bool) and option["id"] == inner
            ) or (
                isinstance(inner, str) and option["text"] == inner  # NET's OptionText [L]
            ):
                return
        raise invalid(value, "must be a valid option")

    def _check_app(self, value: Any, settings: dict[str, Any]) -> None:
        inner = _unwrap(value)
        if isinstance(inner, dict):
            inner = inner.get("item_id")
        if isinstance(inner, bool) or not isinstance(inner, int):
            raise invalid(value, "must be integer")
        app_id = self._item_index.get(inner)
        referenced = {r.get("app_id") for r in settings.get("referenced_apps") or []}
        if app_id is None or (referenced and app_id not in referenced):
            raise invalid(value, "The referenced item is not valid")

    def _check_contact(self, value: Any, settings: dict[str, Any]) -> None:
        inner = _unwrap(value)
        if isinstance(inner, dict):
            inner = inner.get("profile_id")
        if isinstance(inner, bool) or not isinstance(inner, int):
            raise invalid(value, "must be integer")
        if self._user_by_profile(inner) is None:
            raise invalid(value, "No contact found")

    def _check_member(self, value: Any, settings: dict[str, Any]) -> None:
        inner = _unwrap(value)
        if isinstance(inner, dict):
            inner = inner.get("user_id")
        if isinstance(inner, bool) or not isinstance(inner, int) or inner not in self.users:
            raise invalid(value, "No user found")

    @staticmethod
    def _typed(value: Any, allowed: list[str]) -> None:
        if not isinstance(value, dict) or not isinstance(value.get("value"), str):
            raise invalid(value, "must be object")
        if not value["value"].strip():
            raise invalid(value["value"], "must not be empty")
        if value.get("type") not in allowed:
            raise invalid(value.get("type"), "must be one of " + ", ".join(allowed))

    def _check_email(self, value: Any, settings: dict[str, Any]) -> None:
        self._typed(value, settings.get("possible_types") or ["work", "home", "other"])
        if "@" not in value["value"]:
            raise invalid(value["value"], "must be a valid e-mail address")

    def _check_phone(self, value: Any, settings: dict[str, Any]) -> None:
        types = ["mobile", "work", "home", "main", "work_fax", "private_fax", "other"]
        self._typed(value, settings.get("possible_types") or types)

    def _check_location(self, value: Any, settings: dict[str, Any]) -> None:
        if not isinstance(_unwrap(value), str):
            raise invalid(value, "must be string")

    def _check_embed(self, value: Any, settings: dict[str, Any]) -> None:
        if not isinstance(value, dict) or "embed" not in value:
            raise invalid(value, "must be object")
        embed_id = value["embed"]
        if isinstance(embed_id, dict):
            embed_id = embed_id.get("embed_id")
        if not isinstance(embed_id, int) or embed_id not in self.embeds:
            raise invalid(value["embed"], "No embed found")
        if value.get("file") is not None:
            self._check_file(value["file"], settings)

    def _check_image(self, value: Any, settings: dict[str, Any]) -> None:
        self._file_of(value)

    def _check_file(self, value: Any, settings: dict[str, Any]) -> None:
        self._file_of(value)

    def _file_of(self, value: Any) -> FakeFile:
        inner = _unwrap(value)
        if isinstance(inner, dict):
            inner = inner.get("file_id")
        if isinstance(inner, bool) or not isinstance(inner, int) or inner not in self.files:
            raise invalid(value, "No file found")
        return self.files[inner]

    def _check_file_ids(self, file_ids: Any) -> None:
        if file_ids is None:
            return
        if not isinstance(file_ids, list):
            raise invalid(file_ids, "must be array")
        for file_id in file_ids:
            self._file_of(file_id)

    def _attach(self, file_ids: Any, item: FakeItem) -> None:
        for file_id in file_ids or []:
            self.files[int(file_id)].attached_to = ("item", item.item_id)
        app = self.apps[item.app_id]
        for f in app.fields:
            if f["type"] in ("image", "file"):
                for file_id in item.values.get(f["external_id"], []):
                    if file_id in self.files:
                        self.files[file_id].attached_to = ("item", item.item_id)

    # ------------------------------------------------------------------ stored ↔ rendered
    def _normalize_written(self, ftype: str, value: Any) -> Any:
        """Stored entries of the types :mod:`.items` leaves to this module."""
        inner = _unwrap(value)
        if ftype == "member":
            return int(inner["user_id"] if isinstance(inner, dict) else inner)
        if ftype == "embed":
            embed = value["embed"]
            embed_id = int(embed["embed_id"] if isinstance(embed, dict) else embed)
            file = value.get("file")
            return {
                "embed": embed_id,
                "file": None if file is None else self._file_of(file).file_id,
            }
        if ftype in ("image", "file"):
            return self._file_of(value).file_id
        return value

    def _render_written(self, ftype: str, entry: Any) -> dict[str, Any] | None:
        if ftype == "member":
            user = self.users.get(entry)
            return {"value": self._profile(user)} if user else None
        if ftype == "embed":
            embed = self.embeds.get(entry["embed"])
            if embed is None:
                return None
            file = self.files.get(entry["file"]) if entry.get("file") else None
            return {"embed": dict(embed), "file": self.file_json(file) if file else None}
        if ftype in ("image", "file"):
            file = self.files.get(entry)
            return {"value": self.file_json(file)} if file else None
        return {"value": entry}

    # ------------------------------------------------------------------ comments
    def add_comment(
        self,
        item_id: int,
        value: Any,
        *,
        created_by: Any = None,
        external_id: str | None = None,
        hook: bool = True,
    ) -> dict[str, Any]:
        """``POST /comment/item/{item_id}/``: the new comment (``comment.create`` hooks)."""
        with self._lock:
            item = self.get_item(item_id)
            if not isinstance(value, str) or not value.strip():
                raise invalid(value, "must be a non-empty string")
            comment_id = self._next_id("comment")
            comment = {
                "comment_id": comment_id,
                "value": value,
                "rich_value": value,
                "external_id": external_id,
                "ref": {"type": "item", "id": item.item_id},
                "files": [],
                "embed": None,
                "created_by": self._byline(self._ref_of(created_by)),
                "created_via": self._via(),
                "created_on": fmt_ts(self.now()),
                "like_count": 0,
            }
            self._comments.setdefault(item.item_id, []).append(comment)
            self._items_changed(item.app_id)
            if hook:
                self._enqueue_event(
                    "comment.create",
                    item.app_id,
                    {"item_id": str(item.item_id), "comment_id": str(comment_id)},
                )
            return dict(comment)

    def comments_of(self, item_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self._comments.get(int(item_id), [])]

    # ------------------------------------------------------------------ files and embeds
    def upload_file(
        self, name: str, data: bytes, *, mimetype: str = "", created_by: Any = None
    ) -> dict[str, Any]:
        """``POST /file/``: a temporary file until an item (or a field of one) uses it."""
        if len(data) > MAX_UPLOAD_BYTES:
            raise ApiError(400, "invalid_value", "The file is larger than the maximum of 100 MB")
        if not name:
            raise invalid(name, "must be a non-empty string")
        with self._lock:
            file = FakeFile(
                file_id=self._next_id("file"),
                name=name,
                mimetype=mimetype or "application/octet-stream",
                data=bytes(data),
                created_by=self._ref_of(created_by),
                created_on=self.now(),
            )
            self.files[file.file_id] = file
            return self.file_json(file)

    def file_json(self, file: FakeFile) -> dict[str, Any]:
        return {
            "file_id": file.file_id,
            "name": file.name,
            "mimetype": file.mimetype,
            "size": len(file.data),
            "description": None,
            "link": f"https://files.podio.com/{file.file_id}",
            "perma_link": None,
            "thumbnail_link": None,
            "hosted_by": "podio",
            "hosted_by_humanized_name": "Podio",
            "external_file_id": None,
            "created_on": fmt_ts(file.created_on),
            "created_by": self._byline(file.created_by),
            "created_via": self._via(),
        }

    def create_embed(self, url: Any) -> dict[str, Any]:
        """``POST /embed/``: what a link field value refers to."""
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise invalid(url, "must be a valid URL")
        with self._lock:
            embed = {
                "embed_id": self._next_id("embed"),
                "original_url": url,
                "resolved_url": url,
                "url": url,
                "type": "link",
                "title": parts.hostname,
                "description": None,
                "embed_html": None,
                "embed_width": None,
                "embed_height": None,
                "hostname": parts.hostname,
                "files": [],
            }
            self.embeds[embed["embed_id"]] = embed
            return dict(embed)
