"""Every admin action states the permission it needs; nobody else is offered it or can run it.

``refresh_now`` spends a refresh token at Podio (a grant per row), ``verify_again`` turns a
hook inactive at Podio until it is verified again, ``replay`` refetches items with other
people's tokens. Django offers an action to anyone who may see the changelist unless it
declares ``allowed_permissions``; a POST naming an action not offered is refused by Django
("No action selected") and must send nothing to Podio.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import Client

from django_podio import tokens
from django_podio.hooks.secret import digest, new_secret
from django_podio.models import PodioConnection, PodioHook, PodioHookEvent

pytestmark = pytest.mark.django_db

KINDS = ("superuser", "refresh", "change", "view", "none")


@dataclass(frozen=True)
class Action:
    name: str
    model: type
    needs: str  # the permission codename, or "" for the superuser only in this matrix

    @property
    def changelist(self) -> str:
        opts = self.model._meta
        return f"/admin/{opts.app_label}/{opts.model_name}/"

    def allowed(self, kind: str) -> bool:
        if kind == "superuser":
            return True
        return kind == {"refresh_podioconnection": "refresh"}.get(self.needs, "change")


ACTIONS = [
    Action("refresh_now", PodioConnection, "refresh_podioconnection"),
    Action("verify_again", PodioHook, "change_podiohook"),
    Action("replay", PodioHookEvent, "change_podiohookevent"),
]


def test_every_custom_action_declares_its_permissions():
    """The rule holds for any action added later, not just the three walked below."""
    from django.contrib.admin.actions import delete_selected

    found = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label != "django_podio":
            continue
        for action in model_admin.actions or ():
            function = getattr(model_admin, action) if isinstance(action, str) else action
            if function is delete_selected:
                continue
            assert getattr(function, "allowed_permissions", None), (model, action)
            found.append(action)
    assert sorted(found) == sorted(a.name for a in ACTIONS)


@pytest.fixture
def rows(fake):
    """One row per action, each of which would send requests to Podio when acted upon."""
    app = fake.add_app(name="Projects")
    connection = tokens.store_app_connection(app.app_id, app.app_token)
    fake.hold_deliveries()  # hook.verify deliveries go nowhere: no server here
    fake_hook = fake.create_hook("app", app.app_id, "http://127.0.0.1:9/h/", "item.update")
    hook = PodioHook.objects.create(
        hook_id=fake_hook.hook_id,
        app_id=app.app_id,
        event_type="item.update",
        secret_hash=digest(new_secret()),
        connection=connection,
        status=PodioHook.Status.ACTIVE,
    )
    item = fake.add_item(app.app_id, fields={"title": "x"})
    event = PodioHookEvent.objects.create(
        hook=hook,
        type="item.update",
        item_id=item["item_id"],
        revision=1,
        payload={},
        status=PodioHookEvent.Status.FAILED,
    )
    return {PodioConnection: connection.pk, PodioHook: hook.pk, PodioHookEvent: event.pk}


def user_of(kind: str, model: type) -> User:
    if kind == "superuser":
        return User.objects.create_superuser(f"{kind}-{model.__name__}", "su@example.com", "x")
    user = User.objects.create_user(f"{kind}-{model.__name__}", is_staff=True)
    name = model._meta.model_name
    codenames = {
        # May spend tokens, may not change anything: hook actions stay closed to it.
        "refresh": [f"view_{name}", "refresh_podioconnection"],
        "change": [f"view_{name}", f"change_{name}"],
        "view": [f"view_{name}"],
        "none": [],
    }[kind]
    for codename in codenames:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="django_podio", codename=codename)
        )
    return user


def snapshot(model: type, pk: int) -> dict:
    """The columns an action writes (refresh time and tokens, status, attempts)."""
    from django.db import connection as db

    table = model._meta.db_table
    with db.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])  # noqa: S608
        names = [column[0] for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def offered(page: str) -> set[str]:
    return set(re.findall(r'<option value="(\w+)"', page)) - {""}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_an_action_runs_only_with_its_permission(action, kind, rows, fake):
    browser = Client()
    browser.force_login(user_of(kind, action.model))
    page = browser.get(action.changelist)
    if kind == "none":
        assert page.status_code == 403
    else:
        assert page.status_code == 200
        assert (action.name in offered(page.content.decode())) is action.allowed(kind)

    before = snapshot(action.model, rows[action.model])
    fake.reset_log()
    response = browser.post(
        action.changelist,
        {"action": action.name, "_selected_action": [rows[action.model]]},
        follow=True,
    )
    sent = fake.requests
    if action.allowed(kind):
        assert response.status_code == 200
        assert sent, "the action ran: it asked Podio"
    else:
        # Refused by Django before the action runs: nothing reached Podio, nothing changed.
        assert response.status_code in (200, 403)
        assert sent == [], [(r.method, r.path) for r in sent]
        assert snapshot(action.model, rows[action.model]) == before


def test_the_refresh_permission_exists_with_a_plain_name():
    permission = Permission.objects.get(codename="refresh_podioconnection")
    assert permission.content_type.app_label == "django_podio"
    assert permission.name == "Can refresh Podio connections"
