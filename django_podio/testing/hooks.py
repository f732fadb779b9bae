"""The fake's webhooks: hooks on apps, the ``hook.verify`` handshake, and event deliveries.

As Podio does (``podio-api.md`` §5): creating a hook sends ``hook.verify`` with a code to its
URL; the hook stays inactive until someone calls ``/hook/{id}/verify/validate`` with that
code. Active hooks get ``item.create``/``item.update``/``item.delete`` events, form-encoded,
whenever items change (through the API or the fake's own Python methods). Deliveries go out
from background threads, so a receiver may call the fake back while handling one. For tests:
:attr:`hook_delivery` makes them arrive twice or late; :meth:`hold_deliveries` and
:meth:`release_deliveries` let them pile up and go out in another order.
"""

from __future__ import annotations

import contextlib
import hmac
import http.client
import queue
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from .records import ApiError, FakeItem, fmt_ts, make_secret

if TYPE_CHECKING:
    from .shape import StateShape
else:
    StateShape = object

HOOK_CODE_PREFIX = "fphookcode"
HOOK_TYPES = frozenset(
    {
        "item.create",
        "item.update",
        "item.delete",
        "comment.create",
        "comment.delete",
        "file.change",
        "app.update",
        "app.delete",
        "form.create",
        "form.update",
        "form.delete",
    }
)
MAX_HOOKS_PER_TYPE = 10
DELIVERY_TIMEOUT = 15.0


@dataclass
class FakeHook:
    hook_id: int
    ref_type: str
    ref_id: int
    url: str
    type: str
    created_by: tuple[str, int]
    created_on: float
    status: str = "inactive"
    code: str | None = field(default=None, repr=False)
    codes_sent: list[str] = field(default_factory=list, repr=False)


@dataclass
class HookDelivery:
    """One POST to a hook URL and how the receiver answered (``status`` 0: not delivered)."""

    hook_id: int
    url: str
    form: dict[str, str]
    status: int = 0
    error: str = ""
    sent_at: float = 0.0
    elapsed: float = 0.0


@dataclass
class DeliveryOptions:
    """``twice``: send every delivery two times; ``delay``: seconds before each is sent."""

    twice: bool = False
    delay: float = 0.0


class HookState(StateShape):
    """Part of :class:`~.state.PodioState`: hooks, their verification, and deliveries."""

    def _init_hooks(self) -> None:
        self.hooks: dict[int, FakeHook] = {}
        self.deliveries: list[HookDelivery] = []
        self.hook_delivery = DeliveryOptions()
        self.hook_senders = 4
        self._hook_queue: queue.Queue[HookDelivery | None] = queue.Queue()
        self._hook_threads: list[threading.Thread] = []
        self._hook_busy = 0
        self._hook_idle = threading.Condition(threading.Lock())
        self._held: list[HookDelivery] | None = None

    # ------------------------------------------------------------------ hooks
    def create_hook(
        self, ref_type: str, ref_id: int, url: str, hook_type: str, *, created_by: Any = None
    ) -> FakeHook:
        """``POST /hook/{ref_type}/{ref_id}/``: a new inactive hook, then ``hook.verify``."""
        with self._lock:
            if ref_type != "app":
                raise ApiError(400, "invalid_value", f"Hooks on {ref_type!r} are not supported")
            self.get_app(int(ref_id))
            if hook_type not in HOOK_TYPES:
                raise ApiError(400, "invalid_value", f"Invalid hook type {hook_type!r}")
            parts = urlsplit(str(url))
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ApiError(400, "invalid_value", "The url must be an http(s) URL")
            same = [
                h
                for h in self.hooks.values()
                if (h.ref_type, h.ref_id, h.type) == (ref_type, int(ref_id), hook_type)
            ]
            if len(same) >= MAX_HOOKS_PER_TYPE:
                raise ApiError(400, "invalid_value", "Too many hooks of this type on the object")
            hook = FakeHook(
                hook_id=self._next_id("hook"),
                ref_type=ref_type,
                ref_id=int(ref_id),
                url=str(url),
                type=hook_type,
                created_by=self._ref_of(created_by),
                created_on=self.now(),
            )
            self.hooks[hook.hook_id] = hook
            self._send_verify(hook)
            return hook

    def get_hook(self, hook_id: int) -> FakeHook:
        with self._lock:
            try:
                return self.hooks[int(hook_id)]
            except KeyError:
                raise ApiError(404, "not_found", "Hook not found") from None

    def hooks_of(self, ref_type: str, ref_id: int) -> list[FakeHook]:
        with self._lock:
            return [
                h for h in self.hooks.values() if (h.ref_type, h.ref_id) == (ref_type, int(ref_id))
            ]

    def delete_hook(self, hook_id: int) -> None:
        with self._lock:
            self.hooks.pop(self.get_hook(hook_id).hook_id)

    def validate_hook(self, hook_id: int, code: Any) -> None:
        """``POST /hook/{id}/verify/validate``: the right code activates the hook."""
        with self._lock:
            hook = self.get_hook(hook_id)
            given = str(code or "").encode()
            if hook.code is None or not hmac.compare_digest(given, hook.code.encode()):
                raise ApiError(400, "invalid_value", "Invalid verification code")
            hook.status = "active"
            hook.code = None

    def request_hook_verification(self, hook_id: int) -> None:
        """``POST /hook/{id}/verify/request``: inactive again, and a new ``hook.verify``."""
        with self._lock:
            hook = self.get_hook(hook_id)
            hook.status = "inactive"
            self._send_verify(hook)

    def hook_json(self, hook: FakeHook) -> dict[str, Any]:
        return {
            "hook_id": hook.hook_id,
            "status": hook.status,
            "type": hook.type,
            "url": hook.url,
            "created_on": fmt_ts(hook.created_on),
            "created_by": self._byline(hook.created_by),
            "created_via": self._via(),
        }

    def _send_verify(self, hook: FakeHook) -> None:
        hook.code = make_secret(HOOK_CODE_PREFIX, 32)
        hook.codes_sent.append(hook.code)
        form = {"type": "hook.verify", "hook_id": str(hook.hook_id), "code": hook.code}
        self._enqueue(HookDelivery(hook.hook_id, hook.url, form))

    def hook_secrets(self) -> set[str]:
        """Every verification code sent, for leak scans."""
        with self._lock:
            return {code for h in self.hooks.values() for code in h.codes_sent}

    # ------------------------------------------------------------------ events
    def _item_event(self, event_type: str, item: FakeItem) -> None:
        """Called (under the lock) by every item change: one delivery per matching hook."""
        form = {
            "item_id": str(item.item_id),
            "item_revision_id": str(item.item_id * 100 + item.revision),
            "external_id": item.external_id or "",
        }
        self._enqueue_event(event_type, item.app_id, form)

    def _enqueue_event(self, event_type: str, app_id: int, form: dict[str, str]) -> None:
        """One delivery of ``event_type`` (with the event's ids in ``form``) per active hook
        of that type on the app."""
        for hook in self.hooks.values():
            if (hook.ref_type, hook.ref_id, hook.type, hook.status) != (
                "app",
                app_id,
                event_type,
                "active",
            ):
                continue
            delivery = {"type": event_type, "hook_id": str(hook.hook_id), **form}
            self._enqueue(HookDelivery(hook.hook_id, hook.url, delivery))

    # ------------------------------------------------------------------ delivery
    @contextlib.contextmanager
    def held_deliveries(self, order: str = "fifo", seed: int = 0) -> Iterator[None]:
        """Keep deliveries back inside the block; send them on leaving, in ``order``."""
        self.hold_deliveries()
        try:
            yield
        finally:
            self.release_deliveries(order, seed=seed)

    def hold_deliveries(self) -> None:
        with self._lock:
            if self._held is None:
                self._held = []

    def release_deliveries(self, order: str = "fifo", *, seed: int = 0) -> int:
        """Send what was held: ``fifo``, ``reverse`` or ``shuffle`` (seeded) order."""
        with self._lock:
            held, self._held = self._held or [], None
        if order == "reverse":
            held.reverse()
        elif order == "shuffle":
            random.Random(seed).shuffle(held)
        elif order != "fifo":
            raise ValueError(f"unknown order {order!r}")
        for delivery in held:
            self._put(delivery)
        return len(held)

    def wait_for_deliveries(self, timeout: float = 10.0) -> bool:
        """Block until every queued delivery was sent (held ones are not waited for)."""
        deadline = time.monotonic() + timeout
        with self._hook_idle:
            while self._hook_busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._hook_idle.wait(left)
        return True

    def _enqueue(self, delivery: HookDelivery) -> None:
        with self._lock:
            if self._held is not None:
                self._held.append(delivery)
                return
        self._put(delivery)

    def _put(self, delivery: HookDelivery) -> None:
        copies = 2 if self.hook_delivery.twice else 1
        with self._hook_idle:
            self._hook_busy += copies
        self._start_senders()
        for _ in range(copies):
            self._hook_queue.put(HookDelivery(delivery.hook_id, delivery.url, dict(delivery.form)))

    def _start_senders(self) -> None:
        with self._lock:
            self._hook_threads = [t for t in self._hook_threads if t.is_alive()]
            while len(self._hook_threads) < max(1, self.hook_senders):
                thread = threading.Thread(
                    target=self._send_loop, name="FakePodio:hooks", daemon=True
                )
                thread.start()
                self._hook_threads.append(thread)

    def _stop_senders(self) -> None:
        with self._lock:
            threads, self._hook_threads = self._hook_threads, []
        for _ in threads:
            self._hook_queue.put(None)
        for thread in threads:
            thread.join(timeout=DELIVERY_TIMEOUT + 1)

    def _send_loop(self) -> None:
        while True:
            delivery = self._hook_queue.get()
            if delivery is None:
                return
            try:
                if self.hook_delivery.delay > 0:
                    time.sleep(self.hook_delivery.delay)
                self._deliver(delivery)
            finally:
                with self._lock:
                    self.deliveries.append(delivery)
                with self._hook_idle:
                    self._hook_busy -= 1
                    self._hook_idle.notify_all()

    @staticmethod
    def _deliver(delivery: HookDelivery) -> None:
        parts = urlsplit(delivery.url)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        kind = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        body = urlencode(delivery.form).encode()
        started = time.monotonic()
        delivery.sent_at = time.time()
        connection = kind(parts.hostname or "", parts.port, timeout=DELIVERY_TIMEOUT)
        try:
            connection.request(
                "POST",
                path,
                body=body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "User-Agent": "Podio-Hooks (fake)",
                },
            )
            response = connection.getresponse()
            response.read()
            delivery.status = response.status
        except (OSError, http.client.HTTPException) as error:
            delivery.error = type(error).__name__
        finally:
            delivery.elapsed = time.monotonic() - started
            connection.close()
