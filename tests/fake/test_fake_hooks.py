"""The fake Podio's webhooks, checked against a bare HTTP receiver (no Django involved)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import requests

from django_podio.testing import FakePodio


class Receiver:
    """Records every POST (content type and form) and answers 200."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str]]] = []
        received = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"] or 0)).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                received.append((self.headers["Content-Type"], form))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook?x=1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of_type(self, kind: str) -> list[dict[str, str]]:
        return [form for _, form in self.posts if form.get("type") == kind]


@pytest.fixture
def podio():
    with FakePodio() as fake:
        fake.hook_senders = 1
        yield fake


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


def api(fake: FakePodio, app) -> requests.Session:
    token = fake._issue(fake.client_id, "app", app.app_id, "global:all")["access_token"]
    session = requests.Session()
    session.headers["Authorization"] = f"OAuth2 {token}"
    return session


def test_create_verify_validate(podio, receiver):
    app = podio.add_app()
    http = api(podio, app)
    answer = http.post(
        f"{podio.url}/hook/app/{app.app_id}/", json={"url": receiver.url, "type": "item.update"}
    )
    assert answer.status_code == 200
    hook_id = answer.json()["hook_id"]
    assert podio.wait_for_deliveries(5)
    content_type, form = receiver.posts[0]
    assert content_type == "application/x-www-form-urlencoded"
    assert form["type"] == "hook.verify" and form["hook_id"] == str(hook_id)
    listed = http.get(f"{podio.url}/hook/app/{app.app_id}/").json()
    assert [(h["hook_id"], h["status"], h["url"]) for h in listed] == [
        (hook_id, "inactive", receiver.url)
    ]
    bad = http.post(f"{podio.url}/hook/{hook_id}/verify/validate", json={"code": "nope"})
    assert bad.status_code == 400 and podio.hooks[hook_id].status == "inactive"
    good = http.post(f"{podio.url}/hook/{hook_id}/verify/validate", json={"code": form["code"]})
    assert good.status_code == 204 and podio.hooks[hook_id].status == "active"
    again = http.post(f"{podio.url}/hook/{hook_id}/verify/validate", json={"code": form["code"]})
    assert again.status_code == 400  # a code works once
    assert form["code"] in podio.issued_secrets()  # leak scans know about codes
    assert http.post(f"{podio.url}/hook/{hook_id}/verify/request").status_code == 204
    assert podio.hooks[hook_id].status == "inactive" and podio.wait_for_deliveries(5)
    assert len(receiver.of_type("hook.verify")) == 2
    assert http.delete(f"{podio.url}/hook/{hook_id}").status_code == 204
    assert http.delete(f"{podio.url}/hook/{hook_id}").status_code == 404


def test_events_go_to_active_hooks_of_the_right_type_only(podio, receiver):
    app = podio.add_app()
    other = podio.add_app(name="Other")
    hooks = {
        kind: podio.create_hook("app", app.app_id, receiver.url, kind)
        for kind in ("item.create", "item.update", "item.delete")
    }
    podio.create_hook("app", other.app_id, receiver.url, "item.update")  # stays inactive
    for hook in hooks.values():
        podio.validate_hook(hook.hook_id, hook.code)
    podio.wait_for_deliveries(5)
    receiver.posts.clear()
    item_id = podio.add_item(app.app_id, fields={"title": "a"}, external_id="e1")["item_id"]
    podio.update_item(item_id, {"title": "b"})
    other_item = podio.add_item(other.app_id, fields={"title": "x"})["item_id"]
    podio.update_item(other_item, {"title": "y"})
    podio.delete_item(item_id)
    assert podio.wait_for_deliveries(5)
    got = [
        (f["type"], f["hook_id"], f["item_id"], f["item_revision_id"]) for _, f in receiver.posts
    ]
    assert got == [
        ("item.create", str(hooks["item.create"].hook_id), str(item_id), str(item_id * 100)),
        ("item.update", str(hooks["item.update"].hook_id), str(item_id), str(item_id * 100 + 1)),
        ("item.delete", str(hooks["item.delete"].hook_id), str(item_id), str(item_id * 100 + 1)),
    ]
    assert receiver.posts[0][1]["external_id"] == "e1"


def test_twice_late_and_out_of_order(podio, receiver):
    app = podio.add_app()
    hook = podio.create_hook("app", app.app_id, receiver.url, "item.update")
    podio.validate_hook(hook.hook_id, hook.code)
    podio.wait_for_deliveries(5)
    item_id = podio.add_item(app.app_id, fields={"title": "a"})["item_id"]
    receiver.posts.clear()
    podio.hook_delivery.twice = True
    with podio.held_deliveries(order="reverse"):
        for n in range(3):
            podio.update_item(item_id, {"title": f"v{n}"})
        time.sleep(0.1)
        assert receiver.posts == []  # held
    assert podio.wait_for_deliveries(5)
    revisions = [int(f["item_revision_id"]) % 100 for _, f in receiver.posts]
    assert revisions == [3, 3, 2, 2, 1, 1]
    podio.hook_delivery.twice = False
    podio.hook_delivery.delay = 0.3
    started = time.monotonic()
    podio.update_item(item_id, {"title": "late"})
    assert podio.wait_for_deliveries(5) and time.monotonic() - started >= 0.3


def test_hook_rules(podio, receiver):
    app = podio.add_app()
    other = podio.add_app(name="Other")
    http = api(podio, other)  # an app token reaches only its own app
    denied = http.post(
        f"{podio.url}/hook/app/{app.app_id}/", json={"url": receiver.url, "type": "item.update"}
    )
    assert denied.status_code == 403
    own = api(podio, app)
    for body in ({"url": "ftp://x", "type": "item.update"}, {"url": receiver.url, "type": "x"}):
        assert own.post(f"{podio.url}/hook/app/{app.app_id}/", json=body).status_code == 400
    for _ in range(10):
        podio.create_hook("app", app.app_id, receiver.url, "item.create")
    too_many = own.post(
        f"{podio.url}/hook/app/{app.app_id}/", json={"url": receiver.url, "type": "item.create"}
    )
    assert too_many.status_code == 400
    assert podio.wait_for_deliveries(10)
    failed = podio.create_hook("app", app.app_id, "http://127.0.0.1:9/none", "item.update")
    assert podio.wait_for_deliveries(10)
    last = [d for d in podio.deliveries if d.hook_id == failed.hook_id][-1]
    assert last.status == 0 and last.error  # unreachable receivers are recorded, not raised
