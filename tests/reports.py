"""Error reports as a host's tools render them, and real failures to make them with.

Three readers of a failed request:

- Django's technical 500 page (``DEBUG = True``): every frame's local variables (``repr``),
  the request's path, GET, POST, cookies and META;
- ``AdminEmailHandler(include_html=True)`` (``DEBUG = False``): the same report mailed, its
  subject the ``django.request`` log line;
- an error tracker recording frame variables, as Sentry's Django integration does on
  ``got_request_exception`` and its logging integration does for every record with
  ``exc_info``: the exception chain Django and Sentry follow (``__cause__``, else
  ``__context__`` unless suppressed), each frame's ``f_locals`` serialised the way Sentry does
  (dicts, lists, tuples and sets walked item by item, anything else by ``repr``) but without
  its scrubbing (a stricter reader), plus the request's URL, query string, headers and POST.

Failures are real: the database fails at a chosen table through Django's own
``connection.execute_wrapper`` (the hook it documents for instrumenting queries), the cache is
a Redis nobody listens on, and Podio answers what a server may answer. Our code is never
mocked.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import pytest
from django.core import mail
from django.core.signals import got_request_exception
from django.db import OperationalError, connection
from django.test import Client
from django.utils.log import AdminEmailHandler

from .scan import find_leaks

MAX_DEPTH = 8  # Sentry stops at 5 levels; deeper is stricter


def serialised(value: Any, depth: int = 0, seen: frozenset[int] = frozenset()) -> str:
    """One frame variable as a tracker records it (Sentry's rules, no scrubbing)."""
    if depth > MAX_DEPTH or id(value) in seen:
        return "…"
    seen = seen | {id(value)}
    try:
        if isinstance(value, str):
            return value
        if isinstance(value, (bytes, bytearray)):
            return bytes(value).decode("utf-8", "replace")
        if isinstance(value, Mapping):
            return (
                "{"
                + ", ".join(
                    f"{serialised(k, depth + 1, seen)}: {serialised(v, depth + 1, seen)}"
                    for k, v in list(value.items())
                )
                + "}"
            )
        if isinstance(value, (list, tuple, set, frozenset)):
            return "[" + ", ".join(serialised(v, depth + 1, seen) for v in list(value)) + "]"
        return repr(value)
    except Exception as error:
        return f"<unserialisable {type(error).__name__}>"


def chain(error: BaseException | None) -> Iterator[BaseException]:
    """The exceptions Django's page and Sentry show: the cause, else the unsuppressed context."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        if error.__cause__ is not None:
            error = error.__cause__
        elif error.__suppress_context__:
            error = None
        else:
            error = error.__context__


def frame_variables(error: BaseException, tb: TracebackType | None = None) -> str:
    out = []
    for index, exception in enumerate(chain(error)):
        current = tb if index == 0 and tb is not None else exception.__traceback__
        out.append(f"{type(exception).__name__}: {serialised(str(exception))}")
        while current is not None:
            frame = current.tb_frame
            out.append(f"  {frame.f_code.co_name}:")
            for name, value in frame.f_locals.items():
                out.append(f"    {name} = {serialised(value)}")
            current = current.tb_next
    return "\n".join(out)


def request_data(request: Any) -> str:
    """The request a tracker attaches: URL, query string, headers, form data."""
    if request is None:
        return ""
    parts = [request.build_absolute_uri(request.path), request.META.get("QUERY_STRING", "")]
    parts += [f"{k}={v}" for k, v in request.META.items() if k.startswith("HTTP_")]
    with contextlib.suppress(Exception):  # a stream already read: no form to attach
        parts.append(serialised(dict(request.POST.lists())))
    return "\n".join(parts)


class Tracker(logging.Handler):
    """Records what an error tracker would: request exceptions and logged ``exc_info``."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.events: list[str] = []
        self.lines: list[str] = []
        self._formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")

    def on_request_exception(self, sender: Any, request: Any = None, **kwargs: Any) -> None:
        _kind, error, tb = sys.exc_info()
        if error is not None:
            self.events.append(frame_variables(error, tb) + "\n" + request_data(request))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self._formatter.format(record))
        if record.exc_info and record.exc_info[1] is not None:
            self.events.append(frame_variables(record.exc_info[1], record.exc_info[2]))

    def text(self) -> str:
        return "\n".join(self.events + self.lines)


@pytest.fixture
def tracker():
    handler = Tracker()
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    got_request_exception.connect(handler.on_request_exception, dispatch_uid="tests.tracker")
    yield handler
    got_request_exception.disconnect(dispatch_uid="tests.tracker")
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def admin_mail(settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    handler = AdminEmailHandler(include_html=True)
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    yield
    logger.removeHandler(handler)


def mailed() -> str:
    """Every mail sent, subject, body and HTML alternatives."""
    return "\n".join(
        m.subject + "\n" + m.body + "".join(content for content, _ in m.alternatives)
        for m in mail.outbox
    )


def render_both(settings, send) -> tuple[Any, str, str]:
    """``send()`` once with ``DEBUG`` on (the page) and once off (the mail).

    Returns the second response, the DEBUG page and the mails of the second request.
    """
    settings.DEBUG = True
    first = send()
    page = first.content.decode(errors="replace")
    settings.DEBUG = False
    mail.outbox.clear()
    second = send()
    return second, page, mailed()


def assert_no_leak(secrets: set[str], **texts: str) -> None:
    assert secrets, "nothing to look for"
    leaks = find_leaks(secrets, **texts)
    if leaks:
        where = []
        for name, text in texts.items():
            for secret in secrets:
                at = text.find(secret)
                if secret and at >= 0:
                    where.append(f"{name}: …{text[max(0, at - 400) : at + 10]!r}")
        raise AssertionError(f"secrets leaked: {leaks}\n" + "\n".join(where[:5]))


@contextmanager
def database_fails(table: str, *, verbs: tuple[str, ...] = ("SELECT", "INSERT", "UPDATE")):
    """Every query of ``verbs`` on ``table`` fails as a lost database connection does."""

    def fail(execute, sql, params, many, context):
        named = f'"{table}"' in sql or f"`{table}`" in sql
        if named and sql.lstrip().upper().startswith(verbs):
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail):
        yield


DOWN_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens on port 9
    }
}


def failing_client() -> Client:
    return Client(raise_request_exception=False)
