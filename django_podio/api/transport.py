"""HTTP to Podio: one session, timeouts, retries with backoff, 420 waits, error mapping.

Both :class:`~django_podio.api.client.PodioClient` and :mod:`django_podio.api.oauth` send
through a :class:`Transport`, so every call to Podio behaves and logs the same way.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import NewConnectionError

from .. import conf
from ..exceptions import PodioConnectionError, RateLimited, ServerError
from ..redaction import get_logger
from . import limits
from .errors import error_from_response

logger = get_logger("django_podio.api")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy"})
USER_AGENT = "django-podio/0.1"
# Rate-limit waits per logical request (see Transport._rate_limit_wait).
MAX_RATE_LIMIT_WAITS = 3
MIN_RATE_LIMIT_WAIT = 1.0


class Transport:
    """Sends requests to Podio and turns every failure into one of our exceptions.

    ``sleep`` and ``clock`` are injectable so tests exercise backoff and rate-limit waits
    without waiting for real.
    """

    def __init__(
        self,
        *,
        timeout: tuple[float, float] | None = None,
        max_retries: int | None = None,
        rate_limit_max_wait: float | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout or conf.timeout()
        self.max_retries = conf.get("MAX_RETRIES") if max_retries is None else max_retries
        self.rate_limit_max_wait = (
            conf.get("RATE_LIMIT_MAX_WAIT") if rate_limit_max_wait is None else rate_limit_max_wait
        )
        if session is None:
            session = requests.Session()
            # Unless proxies are configured, read the environment once here: requests would
            # re-scan os.environ on every request (about 0.3 ms each), and with trust_env a
            # ~/.netrc entry could even replace our Authorization header.
            if not any(name.lower() in PROXY_VARIABLES for name in os.environ):
                session.trust_env = False
                ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                if ca_bundle:
                    session.verify = ca_bundle
        self.session = session
        self.session.headers.setdefault("User-Agent", USER_AGENT)
        self.sleep = sleep
        self.clock = clock
        self.rate_limit: tuple[int | None, int | None] | None = None

    def close(self) -> None:
        self.session.close()

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter, capped: 0.5 s, 1 s, 2 s … at most 30 s."""
        return random.uniform(0, min(30.0, 0.5 * 2**attempt))

    def send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: requests.auth.AuthBase | None = None,
        safe: bool | None = None,
        wait_refused: bool = False,
        on_unauthorized: Callable[[Exception], Mapping[str, str] | None] | None = None,
    ) -> requests.Response:
        """Send one logical request; return the successful response or raise a PodioError.

        ``safe`` requests (GET, or a read-only POST the caller vouches for) are retried on
        network errors, 5xx and unreadable bodies, and waited out on a rate limit (see
        :meth:`_rate_limit_wait`). A write is never sent twice: whatever the answer, it is
        raised to the caller, who alone knows whether sending it again is harmless.
        ``wait_refused`` lets a write wait out Podio's rate-limit answer like a read: for the
        typed writes (``create_item`` …), whose 420 comes from Podio, which refused the call
        before doing anything; raw ``post``/``put`` never set it.
        ``on_unauthorized`` may return fresh headers once after a 401 (the refresh-and-replay
        rule lives with the caller that owns the token); the request is replayed when it
        returns a mapping, even an empty one (an ``auth`` object may carry the new token).
        Credentials belong in ``auth`` (an object with a masked ``repr``) rather than in
        ``headers``: error reports print every frame's local variables.
        """
        method = method.upper()
        safe = method in SAFE_METHODS if safe is None else safe
        path = urlsplit(url).path
        attempt = 0
        waits = 0
        waited = 0.0
        reauthorized = False
        while True:
            started = self.clock()
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=data,
                    files=files,
                    headers=headers,
                    auth=auth,
                    timeout=self.timeout,
                )
            except requests.RequestException as failure:
                kind = type(failure).__name__
                if safe and attempt < self.max_retries:
                    delay = self.backoff(attempt)
                    logger.info(
                        "%s %s failed (%s); retry %d in %.2fs",
                        method,
                        path,
                        kind,
                        attempt + 1,
                        delay,
                    )
                    attempt += 1
                    self.sleep(delay)
                    continue
                logger.warning("%s %s failed (%s)", method, path, kind)
                raise PodioConnectionError(
                    f"Could not reach Podio: {method} {path} ({kind})",
                    maybe_sent=maybe_sent(failure),
                ) from without_frames(failure)
            self._track_rate_limit(response)
            elapsed = (self.clock() - started) * 1000
            logger.debug("%s %s -> %s (%.0f ms)", method, path, response.status_code, elapsed)

            if response.status_code < 400:
                # Parsed once here, where a truncated body can still be retried, and kept on
                # the response: a 500-item page is megabytes, too big to parse twice.
                response.podio_data = None  # type: ignore[attr-defined]  # ours, read by callers
                if response.status_code != 204 and response.content:
                    try:
                        response.podio_data = response.json()  # type: ignore[attr-defined]
                    except ValueError:
                        if safe and attempt < self.max_retries:
                            attempt += 1
                            self.sleep(self.backoff(attempt - 1))
                            continue
                        raise ServerError(
                            status=response.status_code,
                            description="response body is not valid JSON",
                            method=method,
                            path=path,
                        ) from None
                return response

            error = error_from_response(response, method, path)
            if isinstance(error, RateLimited):
                wait = self._rate_limit_wait(
                    error, safe=safe or wait_refused, waits=waits, waited=waited
                )
                if wait is not None:
                    logger.info("%s %s rate limited; waiting %ss as Podio asks", method, path, wait)
                    waits += 1
                    waited += wait
                    self.sleep(wait)
                    continue
                logger.warning("%s %s rate limited (wait %ss)", method, path, error.wait_seconds)
                raise error
            if response.status_code == 401 and on_unauthorized and not reauthorized:
                new_headers = on_unauthorized(error)
                if new_headers is not None:
                    reauthorized = True
                    headers = {**(headers or {}), **new_headers}
                    continue
            if isinstance(error, ServerError) and safe and attempt < self.max_retries:
                delay = self.backoff(attempt)
                logger.info(
                    "%s %s -> %s; retry %d in %.2fs",
                    method,
                    path,
                    response.status_code,
                    attempt + 1,
                    delay,
                )
                attempt += 1
                self.sleep(delay)
                continue
            log = logger.warning if response.status_code >= 500 else logger.info
            log("%s", error)
            raise error

    def _rate_limit_wait(
        self, error: RateLimited, *, safe: bool, waits: int, waited: float
    ) -> float | None:
        """How long to sleep before sending a rate-limited request again; ``None``: raise.

        The rules, so that no answer can make the client spin or hammer Podio:

        - only ``safe`` requests are sent again, and the typed writes that ask for it
          (``wait_refused``): a 420 means Podio refused the call before doing anything. A raw
          write (``post``, ``put``: its body may be anything, a token request that reached
          Podio may have spent a refresh token) is never replayed; it raises
          ``RateLimited`` with the wait so the caller (or a task re-enqueuing itself) decides;
        - a wait the answer does not state (or states as negative or non-numeric) is not
          guessed: raise;
        - each wait lasts at least ``MIN_RATE_LIMIT_WAIT`` seconds (Podio asking 0 seconds
          is read as 1) and counts against ``RATE_LIMIT_MAX_WAIT`` for the whole logical
          request;
        - at most ``MAX_RATE_LIMIT_WAITS`` waits per logical request, however short.
        """
        wait: float | None = error.wait_seconds
        if not safe or wait is None or waits >= MAX_RATE_LIMIT_WAITS:
            return None
        wait = max(float(wait), MIN_RATE_LIMIT_WAIT)
        if waited + wait > self.rate_limit_max_wait:
            return None
        return wait

    def _track_rate_limit(self, response: requests.Response) -> None:
        limit = response.headers.get("X-Rate-Limit-Limit")
        remaining = response.headers.get("X-Rate-Limit-Remaining")
        refused = response.status_code in (420, 429)
        if limit is None and remaining is None:
            if refused:
                limits.record(None, None, refused=True)
            return
        self.rate_limit = (
            int(limit) if limit and limit.isdigit() else None,
            int(remaining) if remaining and remaining.isdigit() else None,
        )
        limits.record(*self.rate_limit, refused=refused)


def maybe_sent(failure: requests.RequestException) -> bool:
    """Whether a request that failed this way may have reached Podio.

    Only a connection that was never made proves it did not: a refused connection or a
    connect timeout. A reset, a read timeout or a dropped answer may come after Podio did
    the work.
    """
    if isinstance(failure, requests.ConnectTimeout):
        return False
    if isinstance(failure, requests.ConnectionError):
        reason = getattr(failure.args[0], "reason", None) if failure.args else None
        if isinstance(reason, NewConnectionError):
            return False
    return True


def without_frames(error: BaseException) -> BaseException:
    """``error`` and its causes, stripped of their tracebacks, to chain as a cause.

    The cause says what failed (refused, reset, timed out) but its frames inside requests
    and urllib3 hold the prepared request, ``Authorization`` header included, and error
    reports print them.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__traceback__ = None
        current = current.__cause__ or current.__context__
    return error
