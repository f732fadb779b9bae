"""Creates, updates, deletes, comments, uploads: what is sent, Podio's answers, the app cache."""

from __future__ import annotations

import pytest

from django_podio.api.apps import cached_app
from django_podio.api.client import PodioClient
from django_podio.exceptions import Conflict, Gone, PodioAPIError, RateLimited
from django_podio.values import item_values

from .conftest import requests_made


def test_create_sends_field_ids_and_options_and_returns_podios_answer(podio):
    answer = podio.client.create_item(
        podio.app.app_id,
        {"title": "Hi", "status": "Active"},
        external_id="crm-1",
        silent=True,
        hook=False,
    )
    assert set(answer) >= {"item_id", "title", "revision"} and answer["revision"] == 0
    [post] = podio.fake.requests_to(f"/item/app/{podio.app.app_id}", "POST")
    fields = {f["external_id"]: str(f["field_id"]) for f in podio.app.fields}
    assert post.json == {
        "fields": {fields["title"]: "Hi", fields["status"]: [2]},
        "external_id": "crm-1",
    }
    assert post.query == {"silent": ["true"], "hook": ["false"]}
    assert podio.fake.stream == []  # silent: no activity, no notifications
    assert podio.fake.get_item(answer["item_id"]).external_id == "crm-1"


def test_app_definitions_are_fetched_once_for_many_writes(podio):
    for n in range(5):
        podio.client.create_item(podio.app.app_id, {"title": f"#{n}"})
    other = PodioClient(podio.token, api_url=podio.fake.url)  # another client, same cache
    other.create_item(podio.app.app_id, {"title": "#5"})
    assert len(podio.fake.requests_to(f"/app/{podio.app.app_id}", "GET")) == 1
    podio.client.forget_app(podio.app.app_id)
    podio.client.create_item(podio.app.app_id, {"title": "#6"})
    assert len(podio.fake.requests_to(f"/app/{podio.app.app_id}", "GET")) == 2


def test_an_app_token_in_the_definition_is_neither_cached_nor_returned(podio):
    podio.fake.expose_app_tokens = True
    assert "token" in podio.fake.app_json(podio.app)
    app = podio.client.get_app(podio.app.app_id)
    assert "token" not in app and podio.app.app_token not in repr(cached_app(podio.app.app_id))


def test_a_field_added_in_podio_is_found_when_the_definition_is_old(podio):
    podio.client.get_app(podio.app.app_id)
    podio.fake.apps[podio.app.app_id].fields.append(
        podio.fake._complete_field({"external_id": "new-one", "type": "text", "label": "New"})
    )
    before = len(podio.fake.requests)
    with pytest.raises(ValueError, match="has no such field"):  # fresh definition: refused
        podio.client.create_item(podio.app.app_id, {"new-one": "x"})
    assert podio.fake.requests[before:] == []
    podio.client.app_refetch_after = 0  # the cached definition now counts as old
    created = podio.client.create_item(podio.app.app_id, {"new-one": "x"})
    assert item_values(podio.client.get_item(created["item_id"]))["new-one"] == "x"
    assert len(podio.fake.requests_to(f"/app/{podio.app.app_id}", "GET")) == 2


def test_podio_refusing_a_value_drops_the_cached_definition(podio):
    podio.client.get_app(podio.app.app_id)
    status = next(f for f in podio.fake.apps[podio.app.app_id].fields if f["type"] == "category")
    status["config"]["settings"]["options"][1]["status"] = "deleted"  # "Active", gone in Podio
    with pytest.raises(PodioAPIError) as info:
        podio.client.create_item(podio.app.app_id, {"status": "Active"})
    assert info.value.status == 400 and info.value.error == "invalid_value"
    assert "status" not in str(info.value)  # Podio's words: no field name
    assert cached_app(podio.app.app_id, api_url=podio.fake.url) is None
    with pytest.raises(ValueError, match="has no option 'Active'"):  # now we know
        podio.client.create_item(podio.app.app_id, {"status": "Active"})


def test_update_writes_only_the_given_fields(podio):
    created = podio.client.create_item(podio.app.app_id, {"title": "A", "progress": 10})
    answer = podio.client.update_item(created["item_id"], {"progress": 20})
    assert answer == {"item_id": created["item_id"], "revision": 1, "title": "A", "changed": True}
    values = item_values(podio.client.get_item(created["item_id"]))
    assert (values["title"], values["progress"]) == ("A", 20)


def test_an_update_that_changes_nothing_is_a_normal_answer(podio):
    created = podio.client.create_item(podio.app.app_id, {"title": "Same"})
    answer = podio.client.update_item(created["item_id"], {"title": "Same"}, revision=0)
    assert answer == {"item_id": created["item_id"], "revision": None, "changed": False}
    assert podio.fake.get_item(created["item_id"]).revision == 0
    [put] = podio.fake.requests_to(f"/item/{created['item_id']}", "PUT")
    assert put.status == 204


def test_a_stale_revision_conflicts_and_overwrites_nothing(podio):
    created = podio.client.create_item(podio.app.app_id, {"title": "Mine", "progress": 10})
    podio.fake.update_item(created["item_id"], {"title": "Theirs"})  # a colleague, in Podio
    with pytest.raises(Conflict) as info:
        podio.client.update_item(created["item_id"], {"title": "Mine again"}, revision=0)
    assert info.value.status == 409
    item = podio.fake.get_item(created["item_id"])
    assert item.revision == 1 and item_values(podio.fake.item_json(item))["title"] == "Theirs"
    # A field nobody else changed since revision 0 is no conflict.
    answer = podio.client.update_item(created["item_id"], {"progress": 30}, revision=0)
    assert answer["revision"] == 2


def test_update_of_an_unknown_item_asks_podio_for_its_app_once(podio):
    client = PodioClient(podio.token, api_url=podio.fake.url)
    client.update_item(podio.other, {"progress": 5})
    client.update_item(podio.other, {"progress": 6})
    assert len(podio.fake.requests_to(f"/item/{podio.other}", "GET")) == 1


def test_delete_and_delete_again(podio):
    created = podio.client.create_item(podio.app.app_id, {"title": "Bye"})
    assert podio.client.delete_item(created["item_id"], hook=False) is None
    with pytest.raises(Gone):
        podio.client.get_item(created["item_id"])
    with pytest.raises(Gone):  # a second delete is told: it was gone already
        podio.client.delete_item(created["item_id"])


def test_a_dropped_delete_is_sent_again_and_gone_means_done(podio):
    created = podio.client.create_item(podio.app.app_id, {"title": "Bye"})
    podio.fake.add_fault("drop_after", path=f"/item/{created['item_id']}", method="DELETE")
    podio.client.delete_item(created["item_id"])
    deletes = podio.fake.requests_to(f"/item/{created['item_id']}", "DELETE")
    assert [d.status for d in deletes] == [0, 410]


def test_a_rate_limited_write_is_waited_out_within_the_budget(podio, sleeper):
    path = f"/item/app/{podio.app.app_id}"
    podio.client.get_app(podio.app.app_id)
    podio.fake.add_rate_limit(7, path=path, count=1)
    podio.client.create_item(podio.app.app_id, {"title": "after the wait"})
    assert sleeper.calls == [7]
    assert [r.status for r in podio.fake.requests_to(path, "POST")] == [420, 200]
    podio.fake.add_rate_limit(600, path=path, count=1)  # beyond RATE_LIMIT_MAX_WAIT
    with pytest.raises(RateLimited) as info:
        podio.client.create_item(podio.app.app_id, {"title": "later"})
    assert info.value.wait_seconds == 600
    assert len(podio.fake.apps[podio.app.app_id].items) == 2  # one created, none twice


def test_comments_and_their_hook(podio):
    answer = podio.client.add_comment(podio.other, "Looks good")
    assert answer["value"] == "Looks good" and answer["comment_id"]
    item = podio.client.get_item(podio.other)
    assert [c["value"] for c in item["comments"]] == ["Looks good"]
    with pytest.raises(PodioAPIError):
        podio.client.add_comment(podio.other, "")


def test_upload_file_returns_an_id_fields_take(podio):
    file_id = podio.client.upload_file("report.pdf", b"%PDF-1.4 ...")
    [upload] = podio.fake.requests_to("/file/", "POST")
    assert upload.headers["Content-Type"].startswith("multipart/form-data")
    stored = podio.fake.files[file_id]
    assert (stored.name, stored.mimetype, stored.data) == (
        "report.pdf",
        "application/pdf",
        b"%PDF-1.4 ...",
    )
    assert stored.attached_to is None  # temporary until used
    created = podio.client.create_item(podio.app.app_id, {"attachment": file_id})
    assert stored.attached_to == ("item", created["item_id"])
    with pytest.raises(ValueError, match="plain file name"):
        podio.client.upload_file("../etc/passwd", b"x")


def test_an_upload_is_retried_after_a_lost_answer(podio, sleeper):
    podio.fake.add_fault("drop", path="/file/", method="POST")
    file_id = podio.client.upload_file("a.txt", b"hello")
    assert podio.fake.files[file_id].data == b"hello"
    assert [r.status for r in podio.fake.requests_to("/file/")] == [0, 200]


def test_a_link_value_creates_its_embed_after_every_check(podio):
    podio.client.get_app(podio.app.app_id)
    before = len(podio.fake.requests)
    with pytest.raises(ValueError):
        podio.client.create_item(
            podio.app.app_id, {"website": "https://ok.example", "progress": 900}
        )
    assert podio.fake.requests[before:] == []  # no embed made for a write that fails
    podio.client.create_item(podio.app.app_id, {"website": "https://ok.example"})
    assert requests_made(podio.fake, before) == [
        ("POST", "/embed/"),
        ("POST", f"/item/app/{podio.app.app_id}/"),
    ]
