"""The receiving view: authenticate by the URL secret, store the delivery, answer at once.

No Podio call happens here (store first, process after, as dj-stripe and anymail do).
Processing starts after the response has been sent (:class:`ProcessAfterResponse`), so
Podio sees its 2xx before ``hook.verify`` is validated with it. The view itself is in
:mod:`django_podio.views` (an entry point: it may hand the event to a task); this module is
the service below it and imports nothing above.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils import timezone

from ..hidden import Hidden
from ..models import PodioHook, PodioHookEvent
from ..redaction import get_logger
from ..text import storable_text
from .secret import HookSecret, find_hook

log = get_logger("django_podio.hooks")

# Podio's deliveries are a handful of ids; anything near this is not Podio.
MAX_BODY_BYTES = 16 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"
ITEM_EVENTS = frozenset({"item.create", "item.update", "item.delete"})


def _quiet(response: HttpResponse) -> HttpResponse:
    # The request path holds the hook's secret: keep Django's request logger from writing it
    # into the logs with the 4xx line (the web server's access log still has it: see docs).
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


class ProcessAfterResponse(HttpResponse):
    """A response that runs callbacks once the server has sent it (WSGI ``close()``)."""

    def __init__(self, *args: Any, after: list[Callable[[], object]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._after = after

    def close(self) -> None:
        after, self._after = self._after, []
        for callback in after:
            try:
                callback()
            except Exception:  # the response is gone; the event stays pending for a retry
                log.exception("Processing a Podio hook event after the response failed")
        super().close()


def receive(
    request: HttpRequest, secret: HookSecret | str
) -> tuple[HttpResponse, PodioHookEvent | None]:
    """Authenticate a delivery by its URL secret and store it: the response to send and the
    stored event (None when nothing was stored). The view (``django_podio.views``) decides
    what runs after the response; nothing here calls Podio or enqueues work."""
    if not isinstance(secret, HookSecret):  # routed by a host's own ``<str:secret>`` path
        secret = HookSecret(secret)
    # First, before anything can fail and be reported: the secret out of the request's path
    # and META, and the body read, so that no report parses the form (a hook.verify code).
    secret.mask_request(request)
    body = _take_body(request)
    hook = find_hook(secret)
    if hook is None:
        return _quiet(HttpResponse("Not found", status=404, content_type="text/plain")), None
    if request.method != "POST":
        response = HttpResponse("POST only", status=405, content_type="text/plain")
        response["Allow"] = "POST"
        return _quiet(response), None
    content_type = (request.content_type or "").lower()
    if content_type != FORM_TYPE:
        response = HttpResponse("Form-encoded only", status=415, content_type="text/plain")
        return _quiet(response), None
    if body is None:
        return _quiet(HttpResponse("Too large", status=413, content_type="text/plain")), None
    parsed = _parse(body)
    if parsed is None:
        return _quiet(HttpResponse("Bad form", status=400, content_type="text/plain")), None
    fields, code = parsed
    problem = _check(hook, fields, code)
    if problem:
        return _quiet(HttpResponse(problem, status=400, content_type="text/plain")), None
    try:
        event = store_delivery(hook, fields, code)
    except Exception:
        # Podio retries a failed delivery; the log line names the hook, never its URL.
        log.exception("Storing a Podio hook delivery failed", extra={"podio_hook": hook.hook_id})
        return _quiet(HttpResponse("Not stored", status=500, content_type="text/plain")), None
    return HttpResponse(b"", status=202, content_type="text/plain"), event


def _take_body(request: HttpRequest) -> Hidden[bytes] | None:
    """The body (at most ``MAX_BODY_BYTES``) behind a masked ``repr``; ``None`` if larger.

    Read from the stream, so ``request.POST`` and ``request.body`` stay unreadable to Django's
    error reports and to trackers that attach the form.
    """
    try:
        length = int(request.headers.get("content-length") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        return None
    body = Hidden(request.read(MAX_BODY_BYTES + 1), "hook delivery")
    return None if len(body.reveal()) > MAX_BODY_BYTES else body


def _parse(body: Hidden[bytes]) -> tuple[dict[str, str], Hidden[str] | None] | None:
    """The form's fields without ``code``, and the code behind a masked ``repr``."""
    try:
        form = QueryDict(body.reveal(), encoding="utf-8")
        # Stored as text: NUL dropped (PostgreSQL refuses it). The code stays as it came: a
        # secret sent back to Podio, stored encrypted.
        fields = {
            storable_text(key): storable_text(form.get(key, "")) for key in form if key != "code"
        }
        return fields, (Hidden(form["code"], "hook.verify code") if form.get("code") else None)
    except Exception:
        return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _check(hook: PodioHook, fields: dict[str, str], code: Hidden[str] | None = None) -> str:
    kind = fields.get("type", "")
    if not kind or len(kind) > 32:
        return "No event type"
    hook_id = _int(fields.get("hook_id"))
    if hook_id is None:
        return "No hook_id"
    if hook.hook_id is not None and hook_id != hook.hook_id:
        return "Wrong hook_id"
    if kind == "hook.verify" and not (code or fields.get("code")):
        return "No code"
    if kind in ITEM_EVENTS and _int(fields.get("item_id")) is None:
        return "No item_id"
    return ""


def store_delivery(
    hook: PodioHook, fields: dict[str, str], code: Hidden[str] | None = None
) -> PodioHookEvent:
    """Store one delivery; a repeat of an item revision already stored becomes a duplicate.

    ``code`` (a ``hook.verify`` code) is stored encrypted and never in the payload.
    """
    if code is None and fields.get("code"):
        code = Hidden(fields["code"], "hook.verify code")
    kind = fields["type"]
    item_id = _int(fields.get("item_id"))
    revision = _int(fields.get("item_revision_id"))
    payload = {k: v[:200] for k, v in fields.items() if k != "code"}
    event = PodioHookEvent(
        hook=hook,
        app_id=hook.app_id,
        type=kind,
        item_id=item_id,
        revision=revision,
        external_id=(fields.get("external_id") or "")[:200],
        payload=payload,
        code=code.reveal() if code else None,
        received_at=timezone.now(),
    )
    if kind in ITEM_EVENTS and revision is not None:
        event.dedupe_key = f"{kind}:{item_id}:{revision}"
    try:
        with transaction.atomic():
            event.save()
    except IntegrityError:
        first = PodioHookEvent.objects.filter(dedupe_key=event.dedupe_key).first()
        event.pk = None
        event.dedupe_key = None
        event.duplicate_of = first
        event.status = PodioHookEvent.Status.DONE
        event.processed_at = event.received_at
        event.save()
    log.info(
        "Podio hook event stored",
        extra={
            "podio_hook": hook.hook_id,
            "podio_hook_event": event.pk,
            "podio_event_type": kind,
            "duplicate": event.duplicate_of_id is not None,
        },
    )
    return event
