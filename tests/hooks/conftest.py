from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from django_podio import signals, tokens
from django_podio.testing.seed import default_fields

LIGHT_FIELDS = [f for f in default_fields(0) if f["external_id"] in ("title", "amount", "status")]


# Django's live server shares an in-memory SQLite database's one connection between this
# thread and its request threads; two threads inside it at once break its transactions.
# With such a database the request (including the work after the response) and this thread's
# checks take turns; with a file or PostgreSQL database nothing is serialized.
SHARED_CONNECTION = threading.RLock()


class AfterResponse:
    """How many webhook responses are still running their work after the response.

    A delivery counts as sent once its response is read; the receiving view then processes
    due events in the request's thread (``ProcessAfterResponse.close``). A test that changes
    an event's state must wait for that work, or it races it (the drainer's last look for due
    events can take up an event the test just made due)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0

    def idle(self) -> bool:
        with self.lock:
            return self.running == 0


AFTER_RESPONSE = AfterResponse()


@pytest.fixture
def count_after_response(monkeypatch):
    from django_podio.hooks.receive import ProcessAfterResponse

    init, close = ProcessAfterResponse.__init__, ProcessAfterResponse.close

    def counted_init(self, *args, **kwargs):
        init(self, *args, **kwargs)  # made before it is sent: counted before it can be read
        with AFTER_RESPONSE.lock:
            AFTER_RESPONSE.running += 1

    def counted_close(self):
        try:
            close(self)
        finally:
            with AFTER_RESPONSE.lock:
                AFTER_RESPONSE.running -= 1

    monkeypatch.setattr(ProcessAfterResponse, "__init__", counted_init)
    monkeypatch.setattr(ProcessAfterResponse, "close", counted_close)


@pytest.fixture
def take_turns(monkeypatch, count_after_response):
    from django.core.handlers.base import BaseHandler
    from django.db import connection

    from django_podio.hooks.receive import ProcessAfterResponse

    if not (connection.vendor == "sqlite" and connection.is_in_memory_db()):
        return
    get_response, close = BaseHandler.get_response, ProcessAfterResponse.close

    def locked_get_response(self, request):
        with SHARED_CONNECTION:
            return get_response(self, request)

    def locked_close(self):
        with SHARED_CONNECTION:
            close(self)

    monkeypatch.setattr(BaseHandler, "get_response", locked_get_response)
    monkeypatch.setattr(ProcessAfterResponse, "close", locked_close)


def wait_until(check: Callable[[], object], timeout: float = 15.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        with SHARED_CONNECTION:
            value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.02)


class Received:
    """Every webhook signal sent, from whichever thread sent it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.changed: list[tuple[int, int, str, int]] = []
        self.deleted: list[tuple[int, int]] = []
        self.events: list[tuple[str, int | None]] = []

    def on_changed(self, sender, app_id, item_id, event, item, **kwargs):
        with self.lock:
            self.changed.append((app_id, item_id, event, item["revision"]))

    def on_deleted(self, sender, app_id, item_id, **kwargs):
        with self.lock:
            self.deleted.append((app_id, item_id))

    def on_event(self, sender, event, **kwargs):
        with self.lock:
            self.events.append((event.type, event.item_id))


@pytest.fixture
def received():
    got = Received()
    signals.item_changed.connect(got.on_changed)
    signals.item_deleted.connect(got.on_deleted)
    signals.hook_event.connect(got.on_event)
    yield got
    signals.item_changed.disconnect(got.on_changed)
    signals.item_deleted.disconnect(got.on_deleted)
    signals.hook_event.disconnect(got.on_event)


@pytest.fixture
def site(transactional_db, live_server, take_turns, fake, podio_settings):
    """A live server Podio can post to, an app in the fake, and its app connection."""
    podio_settings(WEBHOOK_BASE_URL=live_server.url, MAX_RETRIES=0)
    fake.rate_limit_general = fake.rate_limit_limited = 10**6
    fake.hook_senders = 1
    app = fake.add_app(name="Projects", fields=LIGHT_FIELDS)
    connection = tokens.store_app_connection(app.app_id, app.app_token)
    yield SimpleNamespace(url=live_server.url, fake=fake, app=app, connection=connection)
    # Let the live server's request threads finish their work after the response before the
    # server (and the database it shares) goes away.
    from django_podio.hooks import process

    fake.wait_for_deliveries(10)
    for lock in (SHARED_CONNECTION, process._draining):
        with lock:
            pass
    time.sleep(0.1)
