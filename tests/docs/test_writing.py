"""docs/writing.rst, run as pasted against the fake Podio."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import RequestFactory

from django_podio import get_client, tokens
from django_podio.testing.seed import add_every_type_app
from django_podio.values import Money, item_values
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
def projects(fake):
    app = fake.add_app(name="Projects")
    assert app.app_id == 20001  # the id the form example names
    return app


def test_create_and_update(ada, fake, projects):
    created = run_block("writing-create")["add_project"](ada, projects.app_id, 4711)
    item = fake.get_item(created["item_id"])
    assert item.external_id == "order-4711" and created["revision"] == 0
    values = item_values(fake.item_json(item))
    assert values["budget"] == Money(25000, "EUR") and values["status"] == ["Active"]
    finish = run_block("writing-update")["finish"]
    answer = finish(ada, created["item_id"], 0)
    assert answer["changed"] and answer["revision"] == 1
    fake.update_item(created["item_id"], {"progress": 50})  # someone else, in Podio
    assert finish(ada, created["item_id"], 1) is None  # Conflict: nothing overwritten
    assert item_values(fake.item_json(fake.get_item(created["item_id"])))["progress"] == 50


def test_invalid_values_are_told_in_words(ada, projects):
    podio = get_client(ada)
    item_id = podio.create_item(projects.app_id, {"title": "x"})["item_id"]
    set_progress = run_block("writing-errors")["set_progress"]
    assert set_progress(podio, item_id, 150) == "Progress: must be from 0 to 100, not 150"
    assert set_progress(podio, item_id, 50) == "saved"


def test_files_and_comments(ada, fake):
    app = add_every_type_app(fake)
    podio = get_client(ada)
    item_id = podio.create_item(app.app_id, {"title": "Report"})["item_id"]
    comment = run_block("writing-files")["attach_report"](podio, item_id, b"%PDF-1.4")
    item = podio.get_item(item_id)
    assert [f.name for f in item_values(item)["attachment"]] == ["report.pdf"]
    assert [c["comment_id"] for c in item["comments"]] == [comment["comment_id"]]


@pytest.fixture
def form_pages(settings, projects):
    """The example's template, where ``render`` finds it."""
    settings.TEMPLATES = [
        {
            **settings.TEMPLATES[0],
            "APP_DIRS": False,
            "OPTIONS": {
                **settings.TEMPLATES[0]["OPTIONS"],
                "loaders": [
                    (
                        "django.template.loaders.locmem.Loader",
                        {"projects/form.html": snippet("writing-form-template")},
                    ),
                ],
            },
        }
    ]
    tokens.store_app_connection(projects.app_id, projects.app_token)
    return run_block("writing-form")


def _post(view, data, *args):
    request = RequestFactory().post("/", data)
    request._dont_enforce_csrf_checks = True
    return view(request, *args)


def test_the_form_example_creates_once_and_updates_with_conflicts(fake, projects, form_pages):
    new_project, edit_project = form_pages["new_project"], form_pages["edit_project"]
    page = new_project(RequestFactory().get("/")).content.decode()
    assert 'name="title"' in page and 'name="amount"' in page and "Planned" in page
    token = re.search(r'name="podio_token" value="([^"]+)"', page).group(1)
    data = {"podio_token": token, "title": "From the docs", "status": "2", "amount": "3"}
    assert _post(new_project, data).status_code == 302
    assert _post(new_project, data).status_code == 302  # sent twice ...
    made = [i for i in projects.items.values() if i.external_id]
    assert len(made) == 1  # ... one item
    item_id = made[0].item_id
    edit_page = edit_project(RequestFactory().get("/"), item_id).content.decode()
    assert 'value="From the docs"' in edit_page
    edit_token = re.search(r'name="podio_token" value="([^"]+)"', edit_page).group(1)
    fake.update_item(item_id, {"title": "Renamed in Podio"})
    stale = {"podio_token": edit_token, "title": "Mine", "status": "2", "amount": "3"}
    conflict = _post(edit_project, stale, item_id)
    assert conflict.status_code == 200 and "Someone changed this item" in conflict.content.decode()
    assert item_values(fake.item_json(fake.get_item(item_id)))["title"] == "Renamed in Podio"
