"""Demo data: the default "Projects" field set, a deterministic item generator, ``seed_demo``.

Values cover every field type the integration reads, in the shapes Podio writes them, so code
under test meets the same variety (strings for numbers, local vs UTC dates, nested contacts and
references) that a real workspace produces.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .state import FakeApp, PodioState

STATUS_OPTIONS = [
    {"id": 1, "text": "Planned", "status": "active", "color": "DCEBD8"},
    {"id": 2, "text": "Active", "status": "active", "color": "D2E4EB"},
    {"id": 3, "text": "On hold", "status": "active", "color": "F7F0C5"},
    {"id": 4, "text": "Done", "status": "active", "color": "E1D8ED"},
]
CURRENCIES = ["EUR", "USD", "DKK", "GBP"]
ADJECTIVES = [
    "Quarterly",
    "Annual",
    "Customer",
    "Internal",
    "Website",
    "Mobile",
    "Warehouse",
    "Marketing",
    "Security",
    "Onboarding",
    "Billing",
    "Partner",
]
NOUNS = [
    "review",
    "migration",
    "launch",
    "audit",
    "redesign",
    "rollout",
    "workshop",
    "campaign",
    "integration",
    "report",
    "upgrade",
    "survey",
]
PLACES = [
    "Rådhuspladsen 1, 1550 København V, Denmark",
    "10 Downing Street, London SW1A 2AA, United Kingdom",
    "Unter den Linden 77, 10117 Berlin, Germany",
    "1 Market St, San Francisco, CA 94105, USA",
    "Dam 1, 1012 JS Amsterdam, Netherlands",
]


def field(
    external_id: str, ftype: str, label: str, settings: dict[str, Any], **config: Any
) -> dict[str, Any]:
    """One field definition as an app's ``fields`` list holds it."""
    return {
        "external_id": external_id,
        "type": ftype,
        "label": label,
        "settings": settings,
        "config": config,
    }


def default_fields(app_id: int) -> list[dict[str, Any]]:
    """The realistic field set of a default fake app (one field of every common type)."""

    return [
        field("title", "text", "Title", {"format": "plain", "size": "small"}, required=True),
        field("amount", "number", "Amount", {"decimals": 2}),
        field("budget", "money", "Budget", {"allowed_currencies": CURRENCIES}),
        field(
            "status",
            "category",
            "Status",
            {"options": STATUS_OPTIONS, "multiple": False, "display": "inline"},
        ),
        field(
            "due-date",
            "date",
            "Due date",
            {"calendar": True, "end": "enabled", "time": "enabled", "color": "DCEBD8"},
        ),
        field("owner", "contact", "Owner", {"type": "space_users", "valid_types": ["user"]}),
        field("progress", "progress", "Progress", {}),
        field(
            "related", "app", "Related", {"referenced_apps": [{"app_id": app_id}], "multiple": True}
        ),
        field("email", "email", "Email", {"include_in_cc": False, "possible_types": ["work"]}),
        field("phone", "phone", "Phone", {"possible_types": ["mobile", "work"]}),
        field("location", "location", "Location", {"structured": False}),
        field("duration", "duration", "Duration", {"fields": ["hours", "minutes"]}),
        field(
            "calculation",
            "calculation",
            "Calculation",
            {"script": "@Amount * 0.1", "return_type": "number", "decimals": 4},
        ),
    ]


def every_type_fields(app_id: int) -> list[dict[str, Any]]:
    """A field of every type an item write takes (and a calculation), for write tests.

    Settings in the shapes Podio's app definitions have (``podio-api.md`` §4.4, §4.5).
    """
    fields = {f["external_id"]: f for f in default_fields(app_id)}

    return [
        fields["title"],
        field(
            "notes",
            "text",
            "Notes",
            {"format": "html", "size": "large"},
            description="Anything else",
        ),
        fields["amount"],
        fields["budget"],
        field("fee", "money", "Fee", {"allowed_currencies": ["EUR"]}),
        fields["status"],
        field(
            "tags",
            "category",
            "Tags",
            {"options": TAG_OPTIONS, "multiple": True, "display": "list"},
        ),
        fields["due-date"],
        field("day", "date", "Day", {"calendar": True, "end": "disabled", "time": "disabled"}),
        fields["owner"],
        field("reviewer", "member", "Reviewer", {}),
        fields["progress"],
        fields["related"],
        field("email", "email", "Email", {"possible_types": ["work", "home", "other"]}),
        fields["phone"],
        field("website", "embed", "Website", {}),
        fields["location"],
        fields["duration"],
        field("photo", "image", "Photo", {"allowed_mimetypes": ["image/png", "image/jpeg"]}),
        field("attachment", "file", "Attachment", {}),
        fields["calculation"],
    ]


def add_every_type_app(state: PodioState, name: str = "Everything") -> FakeApp:
    """An app with :func:`every_type_fields`, its reference field pointing at itself."""
    app = state.add_app(name=name, fields=every_type_fields(0))
    for f in app.fields:
        if f["type"] == "app":
            f["config"]["settings"] = {
                "referenced_apps": [{"app_id": app.app_id}],
                "multiple": True,
            }
    return app


TAG_OPTIONS = [
    {"id": 1, "text": "Urgent", "status": "active", "color": "F7D1D0"},
    {"id": 2, "text": "Client", "status": "active", "color": "D2E4EB"},
    {"id": 3, "text": "Internal", "status": "active", "color": "DCEBD8"},
    {"id": 4, "text": "Retired", "status": "deleted", "color": "E1D8ED"},
]


def generate_value(
    state: PodioState, app: FakeApp, f: dict[str, Any], rng: random.Random, n: int, now: float
) -> Any:
    """One write-shaped value for field ``f``; None leaves the field empty."""
    ftype = f["type"]
    if ftype == "text":
        return f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} #{n}"
    if ftype == "number":
        return f"{rng.uniform(0, 10000):.4f}"
    if ftype == "money":
        currencies = f["config"].get("settings", {}).get("allowed_currencies") or CURRENCIES
        return {"value": f"{rng.uniform(100, 100000):.4f}", "currency": rng.choice(currencies)}
    if ftype == "category":
        options = f["config"].get("settings", {}).get("options") or []
        return rng.choice(options)["id"] if options else None
    if ftype == "date":
        start = datetime.fromtimestamp(int(now), UTC) + timedelta(
            days=rng.randint(-120, 120), hours=rng.randint(0, 23)
        )
        start = start.replace(minute=rng.choice([0, 15, 30, 45]), second=0)
        value = {"start_utc": start.strftime("%Y-%m-%d %H:%M:%S")}
        if rng.random() < 0.5:
            value["end_utc"] = (start + timedelta(hours=rng.randint(1, 72))).strftime(
                "%Y-%m-%d %H:%M:%S"
            )
        return value
    if ftype == "contact":
        users = sorted(state.users.values(), key=lambda u: u.user_id)
        return rng.choice(users).profile_id if users else None
    if ftype == "app":
        if not app.items:
            return None
        ids = sorted(app.items)
        return [rng.choice(ids[-50:])]
    if ftype == "progress":
        return rng.randint(0, 100)
    if ftype == "email":
        return {"type": "work", "value": f"contact{n}@example.com"}
    if ftype == "phone":
        return {"type": "work", "value": f"+45 {rng.randint(20000000, 99999999)}"}
    if ftype == "location":
        return rng.choice(PLACES)
    if ftype == "duration":
        return rng.randint(1, 40) * 900
    return None  # calculation is computed; unknown types stay empty


def generate_items(state: PodioState, app: FakeApp, n: int, rng: random.Random) -> list[int]:
    """Add ``n`` items spread over the past months, created_on increasing with item_id."""
    state.current_user  # noqa: B018 - makes sure a contact/creator exists
    now = state.now()
    latest = max((i.created_on for i in app.items.values()), default=int(now - 180 * 86400))
    start = max(latest + 1, int(now - 180 * 86400))
    span = max(int(now - 60) - start, n)
    step = span / max(n, 1)
    users = sorted(state.users.values(), key=lambda u: u.user_id)
    created: list[int] = []
    for index in range(n):
        number = app.next_app_item_id
        created_on = int(start + index * step + rng.uniform(0, step * 0.5))
        created_on = min(created_on, int(now))
        edit_gap = rng.choice([0, 0, 60, 3600, 86400, 7 * 86400])
        last_edit = min(created_on + edit_gap, int(now))
        values = {}
        for f in app.fields:
            value = generate_value(state, app, f, rng, number, now)
            if value is not None:
                values[f["external_id"]] = value
        item = state._create_item(
            app.app_id,
            values,
            external_id=f"ext-{app.app_id}-{number}",
            created_by=("user", rng.choice(users).user_id),
            created_on=created_on,
            last_edit_on=last_edit,
        )
        if last_edit > created_on:
            item.revision = rng.randint(1, 5)
        created.append(item.item_id)
    return created


def seed_demo(state: PodioState, items: int = 300) -> dict[str, Any]:
    """The demo workspace; the demo user becomes the one "logged in" at the authorize page."""
    user = state.user_by_mail("demo@example.com") or state.add_user(
        mail="demo@example.com",
        name="Demo User",
        password="demo",  # noqa: S106 - documented demo login
    )
    org = state.add_org("Demo Org")
    space = state.add_space(org.org_id, "Projects Space")
    app = state.add_app(name="Projects", space_id=space.space_id)
    state.current_user = user
    state.add_items(app.app_id, items)
    return {"user": user, "org_id": org.org_id, "space_id": space.space_id, "app_id": app.app_id}
