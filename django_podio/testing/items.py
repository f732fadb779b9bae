"""The fake's items: writing values (write shape), rendering them (read shape), filtering."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, cast

from . import seed as _seed
from .records import (
    LOCAL_TZ,
    TS_FORMAT,
    ApiError,
    FakeApp,
    FakeItem,
    FakeUser,
    fmt_ts,
    parse_ts,
)

if TYPE_CHECKING:
    from .shape import StateShape
    from .state import PodioState
else:
    StateShape = object

#: Rendered filter pages kept per app (a bound: a page is 500 items, ~1 MB of JSON).
PAGE_CACHE_SIZE = 64

REMOVE = object()  # serve_odd_item(..., key=REMOVE) drops a key from the item's JSON


class ItemState(StateShape):
    """Part of :class:`~.state.PodioState`: the items of the apps it holds."""

    # ------------------------------------------------------------------ items
    def _field(self, app: FakeApp, key: Any) -> dict[str, Any]:
        text = str(key)
        for f in app.fields:
            if f["external_id"] == text or str(f["field_id"]) == text:
                return f
        raise ApiError(
            400,
            "invalid_value",
            f"No field with id or external_id {text!r} in app {app.app_id}",
            parameters={"field": text},
        )

    def _ref_of(self, created_by: Any) -> tuple[str, int]:
        if isinstance(created_by, FakeUser):
            return ("user", created_by.user_id)
        if isinstance(created_by, tuple):
            return (str(created_by[0]), int(created_by[1]))
        if created_by is None:
            return ("user", self.current_user.user_id)
        return ("user", int(created_by))

    def add_item(
        self,
        app_id: int,
        *,
        fields: dict[str, Any] | None = None,
        external_id: str | None = None,
        created_by: Any = None,
        created_on: float | None = None,
        last_edit_on: float | None = None,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        """Create an item from write-shaped field values; returns it as GET /item/{id} would."""
        with self._lock:
            item = self._create_item(
                app_id,
                fields or {},
                external_id=external_id,
                created_by=self._ref_of(created_by),
                created_on=created_on,
                last_edit_on=last_edit_on,
                tags=tags,
            )
            return self.item_json(item)

    def _create_item(
        self,
        app_id: int,
        fields: dict[str, Any],
        *,
        external_id: str | None,
        created_by: tuple[str, int],
        created_on: float | None = None,
        last_edit_on: float | None = None,
        tags: list[str] | None = None,
        hook: bool = True,
    ) -> FakeItem:
        app = self.get_app(app_id)
        values = {}
        for key, raw in fields.items():
            f = self._field(app, key)
            entries = self._normalize(app, f, raw)
            if entries:
                values[f["external_id"]] = entries
        created = int(self.now() if created_on is None else created_on)
        item = FakeItem(
            item_id=self._next_id("item"),
            app_id=app.app_id,
            app_item_id=app.next_app_item_id,
            external_id=None if external_id is None else str(external_id),
            values=values,
            created_on=created,
            created_by=created_by,
            last_edit_on=int(created if last_edit_on is None else last_edit_on),
            tags=list(tags or []),
        )
        app.next_app_item_id += 1
        app.items[item.item_id] = item
        self._item_index[item.item_id] = app.app_id
        self._items_changed(app.app_id)
        if hook:
            self._item_event("item.create", item)
        return item

    def add_items(self, app_id: int, n: int) -> list[int]:
        """Add ``n`` generated items with realistic values in every field, deterministic by seed."""
        with self._lock:
            app = self.get_app(app_id)
            rng = random.Random(f"{self.seed}:{app.app_id}:{len(app.items)}")
            # Always a PodioState, of which this class is a part.
            return _seed.generate_items(cast("PodioState", self), app, n, rng)

    def get_item(self, item_id: int) -> FakeItem:
        with self._lock:
            item_id = int(item_id)
            if item_id in self._deleted_items:
                raise ApiError(410, "gone", "This item has been deleted")
            app_id = self._item_index.get(item_id)
            if app_id is None:
                raise ApiError(404, "not_found", "Item not found")
            return self.apps[app_id].items[item_id]

    def update_item(
        self,
        item_id: int,
        fields: dict[str, Any] | None = None,
        *,
        external_id: str | None = None,
        tags: list[str] | None = None,
    ) -> int:
        """Change values like a Podio UI edit: new revision, new last edit time."""
        with self._lock:
            item = self.get_item(item_id)
            app = self.apps[item.app_id]
            for key, raw in (fields or {}).items():
                f = self._field(app, key)
                entries = self._normalize(app, f, raw)
                if entries:
                    item.values[f["external_id"]] = entries
                else:
                    item.values.pop(f["external_id"], None)
                item.field_revisions[f["external_id"]] = item.revision + 1
            if external_id is not None:
                item.external_id = str(external_id)
            if tags is not None:
                item.tags = list(tags)
            item.revision += 1
            item.last_edit_on = max(int(self.now()), item.last_edit_on)
            self._items_changed(item.app_id)
            self._item_event("item.update", item)
            return item.revision

    def delete_item(self, item_id: int) -> None:
        with self._lock:
            item = self.get_item(item_id)
            del self.apps[item.app_id].items[item.item_id]
            del self._item_index[item.item_id]
            self._deleted_items.add(item.item_id)
            self._items_changed(item.app_id)
            self._item_event("item.delete", item)

    def serve_odd_item(
        self, item_id: int, /, *, fields: dict[str, Any] | None = None, **top: Any
    ) -> None:
        """Serve this item in a shape Podio does not send, to test how clients cope.

        ``top`` replaces top-level keys (the value :data:`REMOVE` drops the key, e.g.
        ``item_id=REMOVE``); ``fields`` replaces the raw ``values`` of fields by external id
        (``{"progress": [{"value": "half"}]}``).
        """
        with self._lock:
            item = self.get_item(item_id)
            self._odd_items[int(item_id)] = (dict(top), dict(fields or {}))
            self._items_changed(item.app_id)

    def _oddify(self, item_id: int, data: dict[str, Any]) -> dict[str, Any]:
        top, fields = self._odd_items.get(item_id, ({}, {}))
        present = {f.get("external_id"): f for f in data.get("fields") or []}
        app = self.apps[self._item_index[item_id]]
        for external_id, values in fields.items():
            if external_id not in present:
                spec = next(f for f in app.fields if f["external_id"] == external_id)
                present[external_id] = dict(spec)
                data["fields"].append(present[external_id])
            present[external_id]["values"] = values
        for key, value in top.items():
            if value is REMOVE:
                data.pop(key, None)
            else:
                data[key] = value
        return data

    def item_by_external_id(self, app_id: int, external_id: str) -> FakeItem:
        with self._lock:
            app = self.get_app(app_id)
            matches = [i for i in app.items.values() if i.external_id == external_id]
            if not matches:
                raise ApiError(404, "not_found", "No item found with the given external_id")
            return min(matches, key=lambda i: i.item_id)

    # ------------------------------------------------------------------ value conversion
    def _normalize(self, app: FakeApp, f: dict[str, Any], raw: Any) -> list[Any]:
        """Write shape (what clients send) -> stored entries (one per Podio value)."""
        if raw is None or raw == [] or raw == "":
            return []
        ftype = f["type"]
        items = raw if isinstance(raw, list) else [raw]
        out = []
        try:
            for value in items:
                entry = self._normalize_one(app, f, ftype, value)
                if entry is not None:
                    out.append(entry)
        except (ValueError, TypeError, KeyError, InvalidOperation) as error:
            raise ApiError(
                400,
                "invalid_value",
                f"Invalid value {raw!r} for field {f['external_id']!r} ({ftype}): {error}",
                parameters={"field": f["external_id"]},
            ) from None
        if ftype in ("text", "number", "money", "progress", "duration", "date", "calculation"):
            out = out[:1]
        return out

    def _normalize_one(self, app: FakeApp, f: dict[str, Any], ftype: str, value: Any) -> Any:
        if ftype == "text":
            return str(value["value"] if isinstance(value, dict) else value)
        if ftype in ("number", "calculation"):
            v = value["value"] if isinstance(value, dict) else value
            return Decimal(str(v))
        if ftype == "money":
            if isinstance(value, dict):
                return {"value": Decimal(str(value["value"])), "currency": value.get("currency")}
            return {"value": Decimal(str(value)), "currency": "EUR"}
        if ftype in ("progress", "duration"):
            return int(value["value"] if isinstance(value, dict) else value)
        if ftype == "category":
            options = f["config"].get("settings", {}).get("options", [])
            v = value.get("value", value.get("id")) if isinstance(value, dict) else value
            if isinstance(v, dict):
                v = v.get("id")
            for option in options:
                if str(option["id"]) == str(v) or option["text"] == v:
                    return option["id"]
            raise ValueError(f"no option {v!r}")
        if ftype == "date":
            return self._normalize_date(value)
        if ftype == "contact":
            if isinstance(value, dict):
                inner = value.get("value", value)
                if isinstance(inner, dict):
                    if "profile_id" in inner:
                        return int(inner["profile_id"])
                    user = self.users.get(int(inner["user_id"]))
                    if user is None:
                        raise ValueError("unknown user")
                    return user.profile_id
                value = inner
            profile_id = int(value)
            if self._user_by_profile(profile_id) is None:
                raise ValueError(f"unknown profile {profile_id}")
            return profile_id
        if ftype == "app":
            if isinstance(value, dict):
                inner = value.get("value", value)
                value = inner["item_id"] if isinstance(inner, dict) else inner
            item_id = int(value)
            if item_id not in self._item_index:
                raise ValueError(f"unknown item {item_id}")
            return item_id
        if ftype in ("email", "phone"):
            if isinstance(value, dict):
                return {"type": value.get("type", "work"), "value": str(value["value"])}
            return {"type": "work" if ftype == "email" else "mobile", "value": str(value)}
        if ftype == "location":
            return str(value.get("value") if isinstance(value, dict) else value)
        return self._normalize_written(ftype, value)  # member, embed, image, file: writes.py

    def _normalize_date(self, value: Any) -> dict[str, str | None]:
        """Dates are written in the user's local time (start/end) or UTC (start_utc/end_utc)."""

        def one(v: dict[str, Any], side: str) -> str | None:
            if v.get(f"{side}_utc"):
                return self._canon(v[f"{side}_utc"], utc=True)
            if v.get(side):
                return self._canon(v[side], utc=False)
            if v.get(f"{side}_date"):
                joined = v[f"{side}_date"]
                if v.get(f"{side}_time"):
                    joined += " " + v[f"{side}_time"]
                return self._canon(joined, utc=False)
            return None

        if isinstance(value, str):
            value = {"start": value}
        if not isinstance(value, dict):
            raise TypeError("date must be an object or string")
        start = one(value, "start")
        if start is None:
            raise ValueError("date needs a start")
        return {"start_utc": start, "end_utc": one(value, "end")}

    @staticmethod
    def _canon(text: str, *, utc: bool) -> str:
        text = str(text).strip().replace("T", " ")
        if len(text) == 10:
            datetime.strptime(text, "%Y-%m-%d")
            return text
        moment = datetime.strptime(text[:19], TS_FORMAT)
        if not utc:
            moment = moment.replace(tzinfo=LOCAL_TZ).astimezone(UTC).replace(tzinfo=None)
        return moment.strftime(TS_FORMAT)

    def _render_entry(self, ftype: str, f: dict[str, Any], entry: Any) -> dict[str, Any] | None:
        if ftype == "text":
            return {"value": entry}
        if ftype in ("number", "calculation"):
            return {"value": f"{Decimal(entry):.4f}"}
        if ftype == "money":
            return {"value": f"{Decimal(entry['value']):.4f}", "currency": entry["currency"]}
        if ftype in ("progress", "duration"):
            return {"value": int(entry)}
        if ftype == "category":
            for option in f["config"].get("settings", {}).get("options", []):
                if option["id"] == entry:
                    return {"value": dict(option)}
            return None
        if ftype == "date":
            return self._render_date(entry)
        if ftype == "contact":
            user = self._user_by_profile(entry)
            return {"value": self._profile(user)} if user else None
        if ftype == "app":
            app_id = self._item_index.get(entry)
            if app_id is None:
                return None
            ref = self.apps[app_id].items[entry]
            ref_app = self.apps[app_id]
            return {
                "value": {
                    "item_id": ref.item_id,
                    "app_item_id": ref.app_item_id,
                    "app_item_id_formatted": str(ref.app_item_id),
                    "title": self._title(ref_app, ref),
                    "link": f"{self._app_link(ref_app)}/items/{ref.app_item_id}",
                    "created_on": fmt_ts(ref.created_on),
                    "created_by": self._byline(ref.created_by),
                    "app": self._app_mini(ref_app),
                    "external_id": ref.external_id,
                }
            }
        if ftype in ("email", "phone"):
            return dict(entry)
        if ftype == "location":
            return {
                "value": entry,
                "formatted": entry,
                "street_number": None,
                "street_name": None,
                "postal_code": None,
                "city": None,
                "state": None,
                "country": None,
                "lat": None,
                "lng": None,
                "map_in_sync": True,
            }
        return self._render_written(ftype, entry)

    @staticmethod
    def _render_date(entry: dict[str, str | None]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for side in ("start", "end"):
            utc_text = entry.get(f"{side}_utc")
            if not utc_text:
                out.update(
                    {
                        side: None,
                        f"{side}_date": None,
                        f"{side}_time": None,
                        f"{side}_utc": None,
                        f"{side}_date_utc": None,
                        f"{side}_time_utc": None,
                    }
                )
                continue
            if len(utc_text) == 10:
                out.update(
                    {
                        side: utc_text,
                        f"{side}_date": utc_text,
                        f"{side}_time": None,
                        f"{side}_utc": utc_text,
                        f"{side}_date_utc": utc_text,
                        f"{side}_time_utc": None,
                    }
                )
                continue
            moment = datetime.strptime(utc_text, TS_FORMAT).replace(tzinfo=UTC)
            local = moment.astimezone(LOCAL_TZ)
            out.update(
                {
                    side: local.strftime(TS_FORMAT),
                    f"{side}_date": local.strftime("%Y-%m-%d"),
                    f"{side}_time": local.strftime("%H:%M:%S"),
                    f"{side}_utc": utc_text,
                    f"{side}_date_utc": moment.strftime("%Y-%m-%d"),
                    f"{side}_time_utc": moment.strftime("%H:%M:%S"),
                }
            )
        return out

    def _computed_values(self, app: FakeApp, item: FakeItem) -> dict[str, list[Any]]:
        values = dict(item.values)
        for f in app.fields:
            if f["type"] == "calculation" and f["external_id"] not in values:
                amount = next(
                    (
                        item.values[g["external_id"]][0]
                        for g in app.fields
                        if g["type"] == "number" and g["external_id"] in item.values
                    ),
                    None,
                )
                if amount is not None:
                    values[f["external_id"]] = [Decimal(amount) * Decimal("0.1")]
        return values

    def _title(self, app: FakeApp, item: FakeItem) -> str:
        for f in app.fields:
            if f["type"] == "text" and f["external_id"] in item.values:
                return str(item.values[f["external_id"]][0])
        return ""

    def item_json(self, item: FakeItem) -> dict[str, Any]:
        """The full GET /item/{id} answer (Podio's read shapes, empty fields left out)."""
        with self._lock:
            app = self.apps[item.app_id]
            values = self._computed_values(app, item)
            fields = []
            for f in app.fields:
                entries = values.get(f["external_id"])
                if not entries:
                    continue
                rendered = [self._render_entry(f["type"], f, e) for e in entries]
                rendered = [r for r in rendered if r is not None]
                if rendered:
                    fields.append({**f, "values": rendered})
            title = self._title(app, item)
            link = f"{self._app_link(app)}/items/{item.app_item_id}"
            byline = self._byline(item.created_by)
            revision = {
                "item_revision_id": item.item_id * 100 + item.revision,
                "revision": item.revision,
                "type": byline["type"],
                "created_by": byline,
                "created_via": self._via(),
                "created_on": fmt_ts(item.last_edit_on),
            }
            initial = {**revision, "revision": 0, "created_on": fmt_ts(item.created_on)}
            initial["item_revision_id"] = item.item_id * 100
            data = {
                "item_id": item.item_id,
                "app_item_id": item.app_item_id,
                "app_item_id_formatted": str(item.app_item_id),
                "external_id": item.external_id,
                "title": title,
                "link": link,
                "revision": item.revision,
                "created_on": fmt_ts(item.created_on),
                "created_by": byline,
                "created_via": self._via(),
                "initial_revision": initial,
                "current_revision": revision,
                "last_event_on": fmt_ts(item.last_edit_on),
                "app": self._app_mini(app),
                "space": self._space_json(self.spaces[app.space_id])
                if app.space_id in self.spaces
                else None,
                "fields": fields,
                "tags": list(item.tags),
                "files": [],
                "comments": self.comments_of(item.item_id),
                "ratings": {},
                "rights": ["view", "update", "delete", "comment", "rate", "subscribe"],
                "subscribed": True,
                "subscribed_count": 1,
                "user_ratings": {},
                "priority": 0,
                "like_count": 0,
                "is_liked": False,
                "comment_count": len(self.comments_of(item.item_id)),
                "file_count": 0,
                "task_count": 0,
                "excerpt": {"label": title[:100], "text": title[:100]},
                "sharefile_vault_url": None,
                "push": None,
                "presence": None,
            }
            return self._oddify(item.item_id, data) if item.item_id in self._odd_items else data

    @staticmethod
    def _via() -> dict[str, Any]:
        return {"id": 1, "name": "Podio", "url": "https://podio.com", "display": False}

    # ------------------------------------------------------------------ filtering
    SORT_KEYS = ("created_on", "last_edit_on", "item_id", "app_item_id", "title")

    def _items_changed(self, app_id: int) -> None:
        """Drop the app's rendered pages: its items changed (called under the lock)."""
        self._page_cache.pop(int(app_id), None)

    def filter_page(self, app_id: int, body: dict[str, Any]) -> bytes:
        """``filter_items`` as the JSON bytes served, rendered once per query until the app's
        items change: a benchmark of many clients paging the same app then measures the
        clients, not the fake re-rendering 500 items per page."""
        with self._lock:
            app = self.get_app(app_id)
            # What else a page shows besides the items (fields, people), and what tests change
            # by hand rather than through the methods that drop the cache.
            key = (
                json.dumps(body, sort_keys=True, default=str),
                len(app.fields),
                len(self.users),
                len(self.spaces),
                len(app.items),
                len(self._odd_items),  # tests clear it by hand
            )
            pages = self._page_cache.setdefault(app.app_id, {})
            cached = pages.get(key)
            if cached is not None:
                return cached
            payload = self.filter_items(app_id, body)
            rendered = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            if len(pages) >= PAGE_CACHE_SIZE:
                pages.clear()
            pages[key] = rendered
            return rendered

    def filter_items(self, app_id: int, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            app = self.get_app(app_id)
            try:
                limit = int(body.get("limit", 30))
                offset = int(body.get("offset", 0))
            except (TypeError, ValueError):
                raise ApiError(400, "invalid_value", "limit and offset must be integers") from None
            if limit > 500 or limit < 1:
                raise ApiError(
                    400,
                    "invalid_value",
                    f"Invalid value {limit} (integer): must be between 1 and 500",
                    parameters={"limit": limit},
                )
            if offset < 0:
                raise ApiError(400, "invalid_value", "offset must not be negative")
            sort_by = body.get("sort_by") or "created_on"
            if sort_by not in self.SORT_KEYS:
                raise ApiError(400, "invalid_value", f"Invalid sort_by {sort_by!r}")
            sort_desc = body.get("sort_desc", True)
            if isinstance(sort_desc, str):
                sort_desc = sort_desc.lower() in ("1", "true", "yes")
            filters = body.get("filters") or {}
            if not isinstance(filters, dict):
                raise ApiError(400, "invalid_value", "filters must be an object")
            matching = [i for i in app.items.values() if self._matches(app, i, filters)]

            def key(item: FakeItem) -> tuple[Any, int]:
                if sort_by == "title":
                    return (self._title(app, item).lower(), item.item_id)
                return (getattr(item, sort_by), item.item_id)

            matching.sort(key=key, reverse=bool(sort_desc))
            page = matching[offset : offset + limit]
            return {
                "total": len(app.items),
                "filtered": len(matching),
                "items": [self.item_json(i) for i in page],
            }

    def _matches(self, app: FakeApp, item: FakeItem, filters: dict[str, Any]) -> bool:
        for key, cond in filters.items():
            if key in ("created_on", "last_edit_on"):
                if not self._in_range(getattr(item, key), cond, dates=True):
                    return False
            elif key == "item_id":
                ids = cond if isinstance(cond, list) else [cond]
                if item.item_id not in {int(i) for i in ids}:
                    return False
            elif key == "app_item_id":
                ids = cond if isinstance(cond, list) else [cond]
                if item.app_item_id not in {int(i) for i in ids}:
                    return False
            elif key == "external_id":
                ids = cond if isinstance(cond, list) else [cond]
                if item.external_id not in {str(i) for i in ids}:
                    return False
            elif key == "created_by":
                refs = cond if isinstance(cond, list) else [cond]
                wanted = {
                    (r.get("type", "user"), int(r["id"]))
                    if isinstance(r, dict)
                    else ("user", int(r))
                    for r in refs
                }
                if item.created_by not in wanted:
                    return False
            elif not self._field_matches(app, item, key, cond):
                return False
        return True

    def _in_range(self, value: Any, cond: Any, *, dates: bool) -> bool:
        if not isinstance(cond, dict):
            raise ApiError(400, "invalid_value", f"Invalid range filter {cond!r}")
        low: int | Decimal | None
        high: int | Decimal | None
        try:
            if dates:
                low = parse_ts(cond["from"]) if cond.get("from") else None
                high = parse_ts(cond["to"], end_of_day=True) if cond.get("to") else None
            else:
                low = Decimal(str(cond["from"])) if cond.get("from") is not None else None
                high = Decimal(str(cond["to"])) if cond.get("to") is not None else None
        except (ValueError, InvalidOperation):
            raise ApiError(400, "invalid_value", f"Invalid range filter {cond!r}") from None
        if low is not None and value < low:
            return False
        return not (high is not None and value > high)

    def _field_matches(self, app: FakeApp, item: FakeItem, key: str, cond: Any) -> bool:
        f = self._field(app, key)
        entries = self._computed_values(app, item).get(f["external_id"], [])
        ftype = f["type"]
        if ftype in ("category", "contact", "app"):
            wanted = {int(c) for c in (cond if isinstance(cond, list) else [cond])}
            return any(e in wanted for e in entries)
        if ftype in ("number", "calculation", "progress", "duration", "money"):
            nums = [Decimal(str(e["value"] if isinstance(e, dict) else e)) for e in entries]
            return any(self._in_range(n, cond, dates=False) for n in nums)
        if ftype == "date":
            starts = [parse_ts(e["start_utc"]) for e in entries]
            return any(self._in_range(s, cond, dates=True) for s in starts)
        if ftype == "text":
            needle = str(cond).lower()
            return any(needle in str(e).lower() for e in entries)
        raise ApiError(400, "invalid_value", f"Cannot filter on field type {ftype!r}")
