"""The code examples of the docs pages, run against the fake Podio.

Each block is executed as written (``exec`` of the block read out of docs/*.rst) and the
function it defines is called the way the page says: a view with a request, a helper with an
item. So an example that no longer matches the API fails here, not in a reader's project.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.paginator import Page
from django.test import RequestFactory

from django_podio import get_client
from tests.conftest import login_with_podio

from .snippets import snippet

pytestmark = pytest.mark.django_db


def run_block(name: str) -> dict:
    namespace: dict = {"__name__": f"docs_{name.replace('-', '_')}"}
    exec(compile(snippet(name), f"<docs {name}>", "exec"), namespace)  # noqa: S102
    return namespace


@pytest.fixture
def ada(client, fake):
    login_with_podio(client)
    return get_user_model().objects.get(email="ada@example.com")


@pytest.fixture
def app_with_items(fake):
    app = fake.add_app(name="Projects")
    fake.add_items(app.app_id, 30)
    return app


def request_for(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def test_calling_get_client_view(ada, app_with_items):
    item_id = min(app_with_items.items)
    view = run_block("calling-get-client")["my_view"]
    response = view(request_for(ada), app_with_items.app_id, item_id)
    data = json.loads(response.content)
    assert data["me"] == "Ada Lovelace"
    with get_client(ada) as podio:
        assert data["item"] == podio.get_item(item_id)["title"]
        assert podio.get_item(data["created"])["title"] == "Hello"
    assert isinstance(data["calls_left_this_hour"], int)


def test_calling_errors_view_sends_users_without_podio_to_connect_it(db, ada):
    view = run_block("calling-errors")["projects"]
    stranger = get_user_model().objects.create_user("stranger")
    for user in (stranger, AnonymousUser()):
        response = view(request_for(user))
        assert (response.status_code, response["Location"]) == (302, "/accounts/3rdparty/")
    assert view(request_for(ada)) is None  # connected: the view goes on ("...")


def test_items_export_prints_every_item(fake, app_with_items, monkeypatch, capsys):
    monkeypatch.setenv("PODIO_APP_TOKEN", app_with_items.app_token)
    from django.core.management import call_command

    call_command("podio_app_auth", str(app_with_items.app_id))
    capsys.readouterr()
    run_block("items-iter")["export"](app_with_items.app_id)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 31  # 30 items, then the counts
    assert lines[-1].split()[:2] == ["30", "30"]


def test_items_values_budget(ada, app_with_items):
    budget_of = run_block("items-values")["budget_of"]
    with get_client(ada) as podio:
        items = list(podio.iter_items(app_with_items.app_id))
    budgets = [budget_of(item) for item in items]
    assert any(b is not None for b in budgets)
    for budget in filter(None, budgets):
        amount, currency = budget
        assert isinstance(amount, Decimal) and currency in {"EUR", "USD", "DKK", "GBP"}


def test_items_page_view_reads_the_cache(db):
    view = run_block("items-page")["item_list"]
    request = RequestFactory().get("/", {"page": "1"})
    assert view(request, 20001) is None  # the example's "..." stands for your template


def test_items_page_helper_returns_a_page(db):
    from django_podio import items

    assert isinstance(items.page_of_items(20001, "1", per_page=25), Page)
