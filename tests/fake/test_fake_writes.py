"""The fake's write routes over plain HTTP (no Django): Podio's checks, answers and hooks."""

from __future__ import annotations

import pytest
import requests

from django_podio.testing import FakePodio
from django_podio.testing.seed import add_every_type_app

from .test_fake_hooks import Receiver


@pytest.fixture
def fp():
    with FakePodio() as fake:
        fake.hook_senders = 1
        yield fake


@pytest.fixture
def app(fp):
    return add_every_type_app(fp)


@pytest.fixture
def http(fp, app) -> requests.Session:
    token = fp._issue(fp.client_id, "app", app.app_id, "global:all")["access_token"]
    session = requests.Session()
    session.headers["Authorization"] = f"OAuth2 {token}"
    return session


def field_id(app, external_id: str) -> str:
    return str(next(f["field_id"] for f in app.fields if f["external_id"] == external_id))


def create(fp, http, app, fields, **query) -> requests.Response:
    return http.post(f"{fp.url}/item/app/{app.app_id}/", json={"fields": fields}, params=query)


@pytest.mark.parametrize(
    ("fields", "description"),
    [
        ({"nope": "x"}, 'Invalid value "nope" (string): No field found'),
        ({"progress": 101}, "Invalid value 101 (integer): must not be greater than 100"),
        ({"progress": "50"}, 'Invalid value "50" (string): must be integer'),
        ({"duration": -1}, "Invalid value -1 (integer): must not be less than 0"),
        ({"budget": ["12"]}, 'Invalid value "12" (string): must be object'),
        (
            {"budget": {"value": "1", "currency": "JPY"}},
            'Invalid value "JPY" (string): must be one',
        ),
        ({"status": 99}, "Invalid value 99 (integer): must be a valid option"),
        ({"status": [1, 2]}, "Invalid value [1, 2] (array): must have at most 1 value"),
        ({"email": "a@b.example"}, 'Invalid value "a@b.example" (string): must be object'),
        ({"related": 424242}, "Invalid value 424242 (integer): The referenced item is not valid"),
        ({"photo": 5}, "Invalid value 5 (integer): No file found"),
        ({"website": {"embed": 9}}, "Invalid value 9 (integer): No embed found"),
        ({"title": ["Test"]}, None),  # a list of one text is a list of values: fine
    ],
)
def test_bad_values_get_podios_400_without_the_field_name(fp, http, app, fields, description):
    response = create(fp, http, app, fields)
    if description is None:
        assert response.status_code == 200
        return
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_value"
    assert body["error_description"].startswith(description)
    for f in app.fields:  # Podio names no field
        if f["external_id"] in fields:
            assert f["external_id"] not in body["error_description"].replace('"nope"', "")
    assert len(app.items) == 0


def test_a_calculation_cannot_be_written(fp, http, app):
    response = create(fp, http, app, {"calculation": 5})
    assert response.status_code == 400
    expected = f"Values cannot be set directly for field with id {field_id(app, 'calculation')}"
    assert response.json()["error_description"] == expected


def test_revisions_no_change_and_conflicts(fp, http, app):
    item_id = create(fp, http, app, {"title": "A", "progress": 1}).json()["item_id"]
    url = f"{fp.url}/item/{item_id}"
    assert http.put(url, json={"fields": {"title": "B"}}).json() == {"revision": 1, "title": "B"}
    same = http.put(url, json={"fields": {"title": "B"}, "revision": 1})
    assert same.status_code == 204 and same.content == b""
    assert fp.get_item(item_id).revision == 1
    stale = http.put(url, json={"fields": {"title": "C"}, "revision": 0})
    assert stale.status_code == 409 and stale.json()["error"] == "conflict"
    other_field = http.put(url, json={"fields": {"progress": 2}, "revision": 0})
    assert other_field.json()["revision"] == 2  # progress did not change since revision 0
    assert fp.item_json(fp.get_item(item_id))["title"] == "B"


def test_hooks_fire_unless_hook_false_and_silent_stays_out_of_the_stream(fp, http, app):
    receiver = Receiver()
    try:
        for kind in ("item.create", "item.update", "item.delete", "comment.create"):
            hook = fp.create_hook("app", app.app_id, receiver.url, kind)
            fp.validate_hook(hook.hook_id, hook.code)
        quiet = create(fp, http, app, {"title": "Quiet"}, hook="false", silent="1").json()
        loud = create(fp, http, app, {"title": "Loud"}).json()
        http.put(f"{fp.url}/item/{loud['item_id']}", json={"fields": {"title": "Louder"}})
        http.put(
            f"{fp.url}/item/{quiet['item_id']}",
            json={"fields": {"title": "Q"}},
            params={"hook": "0"},
        )
        comment = http.post(f"{fp.url}/comment/item/{loud['item_id']}/", json={"value": "Hi"})
        http.delete(f"{fp.url}/item/{quiet['item_id']}", params={"hook": "false"})
        assert fp.wait_for_deliveries(5)
        events = [
            (form["type"], form.get("item_id"))
            for _, form in receiver.posts
            if form["type"] != "hook.verify"
        ]
        loud_id = str(loud["item_id"])
        assert events == [
            ("item.create", loud_id),
            ("item.update", loud_id),
            ("comment.create", loud_id),
        ]
        assert receiver.of_type("comment.create")[0]["comment_id"] == str(
            comment.json()["comment_id"]
        )
        assert ("item.create", quiet["item_id"]) not in fp.stream
        assert ("item.create", loud["item_id"]) in fp.stream
    finally:
        receiver.server.shutdown()


def test_comments_files_and_embeds(fp, http, app):
    item_id = create(fp, http, app, {"title": "With things"}).json()["item_id"]
    bodiless = http.post(f"{fp.url}/comment/item/{item_id}/")
    assert bodiless.status_code == 404
    assert bodiless.json()["error_description"].startswith("No matching operation")
    no_source = http.post(f"{fp.url}/file/", data={"filename": "a.txt"})
    assert no_source.status_code == 404 and "source" in no_source.json()["error_description"]
    upload = http.post(
        f"{fp.url}/file/",
        files={"source": ("a.txt", b"hello", "text/plain")},
        data={"filename": "a.txt"},
    ).json()
    assert (upload["name"], upload["mimetype"], upload["size"]) == ("a.txt", "text/plain", 5)
    embed = http.post(f"{fp.url}/embed/", json={"url": "https://example.com"}).json()
    assert http.post(f"{fp.url}/embed/", json={"url": "javascript:x"}).status_code == 400
    updated = http.put(
        f"{fp.url}/item/{item_id}",
        json={
            "fields": {
                "attachment": [upload["file_id"]],
                "website": [{"embed": embed["embed_id"], "file": None}],
            }
        },
    )
    assert updated.status_code == 200
    item = http.get(f"{fp.url}/item/{item_id}").json()
    shown = {f["external_id"]: f["values"] for f in item["fields"]}
    assert shown["attachment"][0]["value"]["file_id"] == upload["file_id"]
    assert shown["website"][0]["embed"]["original_url"] == "https://example.com"
    assert fp.files[upload["file_id"]].attached_to == ("item", item_id)


@pytest.mark.parametrize("kind", ["drop_after", "500_after", "504_after"])
def test_after_processing_faults_lose_the_answer_not_the_item(fp, http, app, kind):
    fp.add_fault(kind, path=f"/item/app/{app.app_id}/", method="POST")
    try:
        response = create(fp, http, app, {"title": "Made"})
    except requests.ConnectionError:
        response = None
    assert response is None or response.status_code >= 500
    assert [fp.item_json(i)["title"] for i in app.items.values()] == ["Made"]


def test_random_faults_can_be_limited_to_a_method(fp, http, app):
    fp.set_fault_rate(1.0, kinds=["500"], paths=[f"/item/app/{app.app_id}"], methods=["POST"])
    assert create(fp, http, app, {"title": "x"}).status_code == 500
    assert http.get(f"{fp.url}/item/app/{app.app_id}/count").status_code == 200
