"""The fake's HTTP side: a real threaded server on 127.0.0.1 that speaks Podio's wire format.

A real socket (rather than mocking ``requests``) means connection reuse, timeouts, dropped
connections and header handling in the code under test are exercised as in production.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import secrets
import socket
import socketserver
import sys
import threading
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from .faults import Fault, FaultInjector
from .state import (
    AccessToken,
    ApiError,
    FakeUser,
    Headers,
    PodioState,
    RecordedRequest,
    fmt_ts,
    rate_limit_error,
)
from .wire import (
    HTML_TYPE,
    JSON_TYPE,
    NO_ROUTE,
    Request,
    Response,
    app_access,
    error_response,
    json_body,
    json_response,
    parse_multipart,
)
from .write_routes import WRITE_ROUTES, WriteRoutes

#: Paths of the fake's own control endpoints (never Podio's).
CONTROL_PREFIX = "/_fake/"
MALFORMED_BODY = b'{"item_id": 1, "title": "Truncated resp'
HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)
# Authorize parameters the consent form posts back (PKCE's included).
PASSED_THROUGH_CONSENT = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)
FAULT_ERRORS = {
    "500": (500, "server_error", "An unexpected error occurred"),
    "502": (502, "bad_gateway", "Bad gateway"),
    "503": (503, "unavailable", "The service is temporarily unavailable"),
    "504": (504, "gateway_timeout", "Gateway timeout"),
}


def html_response(status: int, title: str, body_html: str) -> Response:
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head>\n<body>\n{body_html}\n</body></html>\n"
    )
    return Response(status, page.encode("utf-8"), HTML_TYPE)


def redirect(location: str) -> Response:
    return Response(302, b"", None, {"Location": location, "Cache-Control": "no-store"})


def with_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


# (method, path pattern after trailing-slash removal, handler name, rate-limit pool)
ROUTES: list[tuple[str, re.Pattern[str], str, str]] = [
    (method, re.compile(pattern), name, pool)
    for method, pattern, name, pool in [
        ("GET", r"/user/status", "user_status", "general"),
        ("GET", r"/user", "user", "general"),
        ("GET", r"/org", "orgs", "general"),
        ("GET", r"/org/(?P<org_id>\d+)/space", "org_spaces", "general"),
        ("GET", r"/space/(?P<space_id>\d+)", "space", "general"),
        ("GET", r"/app/space/(?P<space_id>\d+)", "space_apps", "general"),
        ("GET", r"/app/(?P<app_id>\d+)", "app", "general"),
        ("GET", r"/item/(?P<item_id>\d+)", "item_get", "general"),
        (
            "GET",
            r"/item/app/(?P<app_id>\d+)/external_id/(?P<external_id>[^/]+)",
            "item_by_external_id",
            "general",
        ),
        ("POST", r"/item/app/(?P<app_id>\d+)/filter", "item_filter", "limited"),
        ("GET", r"/item/app/(?P<app_id>\d+)/count", "item_count", "general"),
        ("GET", r"/item/app/(?P<app_id>\d+)", "item_list", "limited"),
        ("POST", r"/hook/(?P<ref_type>[a-z_]+)/(?P<ref_id>\d+)", "hook_create", "general"),
        ("GET", r"/hook/(?P<ref_type>[a-z_]+)/(?P<ref_id>\d+)", "hook_list", "general"),
        ("DELETE", r"/hook/(?P<hook_id>\d+)", "hook_delete", "general"),
        ("POST", r"/hook/(?P<hook_id>\d+)/verify/validate", "hook_validate", "general"),
        ("POST", r"/hook/(?P<hook_id>\d+)/verify/request", "hook_request", "general"),
        *WRITE_ROUTES,
    ]
]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: FakePodio) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall in sandboxes.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Kept-alive connections would otherwise go on answering after ``stop()``."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, OSError):  # the client went away; nothing to report
            return
        super().handle_error(request, client_address)


class _ClientGone(Exception):
    """The request's body ended before its Content-Length: its sender is gone."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakePodio/1.0"
    disable_nagle_algorithm = True
    server: _Server

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the access log: test output should not fill with request lines."""

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if len(body) < length:  # the client went away mid-request: a server never acts on it
            raise _ClientGone
        return body

    def _parse(self) -> Request:
        split = urlsplit(self.path)
        body = self._read_body()
        headers = Headers(self.headers.items())
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        parsed: Any = None
        json_error = False
        if body and (content_type.endswith("json") or body[:1] in (b"{", b"[")):
            try:
                parsed = json.loads(body)
            except ValueError:
                json_error = True
        form = None
        files: dict[str, Any] = {}
        if content_type == "application/x-www-form-urlencoded":
            pairs = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            form = {k: v[-1] for k, v in pairs.items()}
        elif content_type == "multipart/form-data":
            form, files = parse_multipart(headers.get("Content-Type") or "", body)
        return Request(
            method=self.command,
            path=split.path or "/",
            raw_query=split.query,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=headers,
            body=body,
            json=parsed,
            form=form,
            json_error=json_error,
            files=files,
        )

    def _dispatch(self) -> None:
        fake = self.server.fake
        received = fake.now()
        try:
            request = self._parse()
        except _ClientGone:
            self.close_connection = True
            return
        try:
            response = fake._respond(request)
        except Exception:  # a bug in the fake must still produce an answer
            traceback.print_exc()
            response = error_response(
                ApiError(500, "server_error", "The fake Podio crashed; see stderr"), request
            )
        fake._record(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=request.query,
                headers=request.headers,
                body=request.body,
                json=request.json,
                form=request.form,
                status=0 if response.drop else response.status,
                time=received,
                client_address=(str(self.client_address[0]), int(self.client_address[1])),
            )
        )
        self._send(response)

    def _send(self, response: Response) -> None:
        if response.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        message = "Rate Limit" if response.status == 420 else None
        try:
            self.send_response(response.status, message)
            if response.content_type:
                self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("X-Podio-Request-Id", secrets.token_hex(8))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if response.body:
                self.wfile.write(response.body)
        except OSError:
            self.close_connection = True


class FakePodio(WriteRoutes, PodioState):
    """Podio's API and OAuth endpoints on a local port, with knobs for time, faults and limits."""

    def __init__(
        self,
        client_id: str = "test-client-id",
        client_secret: str = "test-client-secret",  # noqa: S107 - the fake's public test key
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        access_token_ttl: int = 28800,
        strict_rotation: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__(
            client_id,
            client_secret,
            access_token_ttl=access_token_ttl,
            strict_rotation=strict_rotation,
            seed=seed,
        )
        self.host = host
        self._port = port
        #: Seconds added to every answer (a slow Podio).
        self.latency = 0.0
        #: ``callable(body) -> body`` applied to every 200 answer of the token endpoint, for
        #: tests of what a client does with odd fields (the tokens issued are still live).
        self.token_answer: Callable[[dict[str, Any]], Any] | None = None
        self.timeout_fault_seconds = 5.0
        #: ``callable(request, phase)`` called for every request as it arrives
        #: (``"received"``) and after the latency, just before it is answered
        #: (``"answering"``): for tests that look at the client's state while a request is
        #: in flight (e.g. which database transactions are open meanwhile).
        self.observers: list[Callable[[Request, str], None]] = []
        #: ``callable(line)`` told what the control endpoints did (the command line prints).
        self.on_announce: Callable[[str], None] | None = None
        self.faults = FaultInjector(seed)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakePodio:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self.host, self._port), self)
        self._port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakePodio:{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        self._stop_senders()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakePodio:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("FakePodio has no port yet: call start() first")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def authorize_url(self) -> str:
        return self.url + "/oauth/authorize"

    @property
    def token_url(self) -> str:
        return self.url + "/oauth/token"

    # ------------------------------------------------------------------ faults
    def set_fault_rate(
        self,
        rate: float,
        kinds: tuple[str, ...] | list[str] = ("500", "502", "503", "drop", "malformed_json"),
        paths: list[str] | None = None,
        methods: list[str] | tuple[str, ...] | None = None,
    ) -> None:
        """Random, seeded faults on a share of requests (OAuth paths only when listed;
        only these HTTP ``methods`` when given)."""
        self.faults.set_rate(rate, kinds, paths, methods)

    def add_fault(
        self,
        kind: str,
        *,
        path: str | None = None,
        method: str | None = None,
        count: int = 1,
        wait_seconds: int = 5,
    ) -> None:
        """Queue ``count`` faults of one kind for the next matching requests."""
        self.faults.add(Fault(str(kind), path, method, count, wait_seconds))

    def add_rate_limit(
        self, wait_seconds: int = 5, *, path: str | None = None, count: int = 1
    ) -> None:
        """Queue 420 answers saying "Please wait ``wait_seconds`` seconds"."""
        self.faults.add(Fault("420", path, None, count, int(wait_seconds)))

    def clear_faults(self) -> None:
        """Drop every queued fault and the random fault rate."""
        self.faults.clear()

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _fault_response(self, fault: Fault, request: Request) -> Response | None:
        if fault.after:
            return None  # see _respond: these hit the answer, after processing
        if fault.kind in FAULT_ERRORS:
            status, code, text = FAULT_ERRORS[fault.kind]
            return error_response(ApiError(status, code, text), request)
        if fault.kind == "drop":
            return Response(0, drop=True)
        if fault.kind == "malformed_json":
            return Response(200, MALFORMED_BODY, JSON_TYPE)
        if fault.kind == "html":
            return Response(502, HTML_502, HTML_TYPE)
        if fault.kind == "420":
            pool_limit = (
                self.rate_limit_login
                if request.path.startswith("/oauth/")
                else self.rate_limit_general
            )
            return error_response(rate_limit_error(fault.wait_seconds, pool_limit, 0), request)
        if fault.kind == "timeout":
            self._pause(self.timeout_fault_seconds)
        return None

    # ------------------------------------------------------------------ routing
    def _respond(self, request: Request) -> Response:
        for observe in list(self.observers):
            observe(request, "received")
        self._pause(self.latency)
        for observe in list(self.observers):
            observe(request, "answering")
        fault = self.faults.take(request.method, request.path)
        if fault is not None:
            response = self._fault_response(fault, request)
            if response is not None:
                return response
        try:
            response = self._route(request)
        except ApiError as error:
            response = error_response(error, request)
        if fault is not None and fault.after:
            return self._lost_answer(fault, request, response)
        return response

    def _lost_answer(self, fault: Fault, request: Request, response: Response) -> Response:
        """An after-processing fault: the work is done, the answer does not arrive whole."""
        if fault.kind == "drop_after":
            return Response(0, drop=True)
        if fault.kind == "timeout_after":
            self._pause(self.timeout_fault_seconds)
            return response
        status, code, text = FAULT_ERRORS[fault.kind.removesuffix("_after")]
        return error_response(ApiError(status, code, text), request)

    def _route(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        if path == "/oauth/authorize":
            if request.method == "GET":
                return self._authorize(request, dict(_last(request.query)))
            if request.method == "POST":
                return self._authorize(request, dict(request.form or {}), posted=True)
        if path in ("/oauth/token", "/oauth/token/v2") and request.method == "POST":
            return self._token(request, v2=path.endswith("/v2"))
        if path.startswith(CONTROL_PREFIX):
            return self._control(request, path[len(CONTROL_PREFIX) :])
        match = None
        for method, pattern, name, pool in ROUTES:
            found = pattern.fullmatch(path)
            if found and method == request.method:
                match = (found, name, pool)
                break
        if match is None:
            raise ApiError(404, "not_found", NO_ROUTE)
        found, name, pool = match
        token = self.authenticate(_token_from(request))
        limit, remaining = self.take_rate_limit(
            (token.ref_type, token.ref_id, token.client_id), pool
        )
        headers = {
            "X-Rate-Limit-Limit": str(limit),
            "X-Rate-Limit-Remaining": str(remaining),
            "X-Podio-Auth-Ref": f"{token.ref_type}_{token.ref_id}",
        }
        handler: Callable[..., Response] = getattr(self, f"_api_{name}")
        try:
            response = handler(request, token, **found.groupdict())
        except ApiError as error:
            error.headers = {**headers, **error.headers}
            raise
        response.headers = {**headers, **response.headers}
        return response

    # ------------------------------------------------------------------ control endpoints
    def _control(self, request: Request, path: str) -> Response:
        """What a person does on Podio's web pages, for a fake in another process
        (``python -m django_podio.testing``): ``POST /_fake/client-secret`` issues a new
        client secret, ``POST /_fake/app/<app_id>/app-token`` a new app token
        (``?revoke_tokens=1`` also ends the tokens issued to the app). The answer carries the
        new credential; the fake's own output announces it too (:attr:`announce`)."""
        if request.method != "POST":
            raise ApiError(405, "method_not_allowed", "Control endpoints take POST")
        if path == "client-secret":
            secret = self.rotate_client_secret()
            self.announce(
                f"Issued a new client secret (the old one is refused from now on): "
                f"PODIO_CLIENT_SECRET={secret}"
            )
            return json_response(200, {"client_secret": secret})
        found = re.fullmatch(r"app/(\d+)/app-token", path)
        if found:
            revoke = (request.arg("revoke_tokens") or "") in ("1", "true", "yes")
            try:
                token = self.rotate_app_token(int(found[1]), revoke_tokens=revoke)
            except KeyError:
                raise ApiError(404, "not_found", f"No app {found[1]}") from None
            self.announce(
                f"Issued a new app token for app {found[1]} (the old one no longer signs in"
                f"{'; its tokens were revoked' if revoke else ''}): PODIO_APP_TOKEN={token}"
            )
            return json_response(200, {"app_id": int(found[1]), "app_token": token})
        raise ApiError(404, "not_found", NO_ROUTE)

    def announce(self, line: str) -> None:
        """Tell the person running the fake (``python -m django_podio.testing`` prints it)."""
        if self.on_announce is not None:
            self.on_announce(line)

    # ------------------------------------------------------------------ OAuth endpoints
    def _authorize(
        self, request: Request, params: dict[str, str], posted: bool = False
    ) -> Response:
        client_id = params.get("client_id") or ""
        if not self.check_client(client_id):
            return html_response(
                400, "Invalid client", "<h1>Invalid client</h1><p>Unknown client_id.</p>"
            )
        redirect_uri = params.get("redirect_uri") or ""
        if not redirect_uri.startswith(("http://", "https://")):
            return html_response(
                400, "Invalid redirect", "<h1>Invalid request</h1><p>Missing redirect_uri.</p>"
            )
        response_type = params.get("response_type") or "code"
        if response_type not in ("code", "token"):
            return html_response(
                400, "Invalid request", "<h1>Invalid request</h1><p>Bad response_type.</p>"
            )
        if posted:
            allow = params.get("decision") == "allow"
        elif self.authorize_mode == "consent":
            return self._consent_page(params)
        elif self.authorize_mode in ("auto", "deny"):
            allow = self.authorize_mode == "auto"
        else:
            raise ValueError(f"unknown authorize_mode {self.authorize_mode!r}")
        state = params.get("state")
        extra = {"state": state} if state is not None else {}
        if not allow:
            denied = {
                "error_reason": "user_denied",
                "error": "access_denied",
                "error_description": "The user denied your request.",
                **extra,
            }
            return redirect(with_query(redirect_uri, denied))
        scope = params.get("scope") or None
        if response_type == "token":
            tokens = self.issue_implicit(client_id, scope)
            fragment = {k: str(v) for k, v in tokens.items() if k != "ref"}
            return redirect(redirect_uri + "#" + urlencode({**fragment, **extra}))
        code = self.issue_code(
            client_id,
            redirect_uri,
            scope,
            params.get("code_challenge"),
            params.get("code_challenge_method"),
        )
        return redirect(with_query(redirect_uri, {"code": code, **extra}))

    def _consent_page(self, params: dict[str, str]) -> Response:
        """A consent page shaped like Podio's: who asks, who is signed in, what it may do.

        Self-contained (inline CSS, no external asset) so it renders offline; a banner says
        it is the fake, so a screenshot is never mistaken for Podio's own page.
        """
        user = self.current_user
        hidden = "\n".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
            if k in PASSED_THROUGH_CONSENT
        )
        scope = params.get("scope") or "global:all"
        client = html.escape(self.client_name_of(params.get("client_id", "")))
        client_id = html.escape(params.get("client_id", ""))
        name = html.escape(user.name)
        initial = html.escape((user.name or "?")[:1].upper())
        target = html.escape(urlsplit(params.get("redirect_uri", "")).netloc)
        page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Podio - Authorize {client}</title>
<style>
  * {{ box-sizing: border-box; }}
  body {{ margin: 0; min-height: 100vh; background: #eef1f4; color: #2b3440;
         font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }}
  .fake {{ background: #fff4d6; color: #6b4e00; text-align: center; font-size: 13px;
          padding: 6px 12px; border-bottom: 1px solid #f0dc9c; }}
  .top {{ background: #fff; border-bottom: 1px solid #dde3e9; padding: 14px 24px; }}
  .logo {{ font-weight: 800; font-size: 22px; letter-spacing: -0.5px; color: #3d4a57; }}
  .logo span {{ color: #58b847; }}
  .card {{ max-width: 460px; margin: 48px auto; background: #fff; border-radius: 8px;
          border: 1px solid #dde3e9; box-shadow: 0 2px 10px rgba(30, 40, 50, .08);
          padding: 28px 32px; }}
  .apps {{ display: flex; align-items: center; justify-content: center; gap: 14px;
          margin-bottom: 18px; }}
  .icon {{ width: 52px; height: 52px; border-radius: 10px; display: grid; place-items: center;
          font-weight: 700; font-size: 22px; color: #fff; background: #3d8fd1; }}
  .icon.user {{ border-radius: 50%; background: #58b847; }}
  .dots {{ color: #9aa6b2; letter-spacing: 3px; }}
  h1 {{ font-size: 20px; margin: 0 0 6px; text-align: center; }}
  .sub {{ color: #66727f; text-align: center; margin: 0 0 20px; }}
  .who {{ background: #f5f7f9; border-radius: 6px; padding: 10px 14px; margin-bottom: 16px; }}
  .perm {{ margin: 0 0 22px; }}
  .perm h2 {{ font-size: 14px; text-transform: uppercase; letter-spacing: .04em;
             color: #66727f; margin: 0 0 6px; }}
  .perm li {{ margin: 2px 0; }}
  code {{ background: #eef1f4; border-radius: 4px; padding: 1px 5px; font-size: 13px; }}
  .actions {{ display: flex; gap: 12px; justify-content: flex-end; }}
  button {{ font: inherit; font-weight: 600; border-radius: 5px; padding: 9px 22px;
           cursor: pointer; border: 1px solid #c4ccd4; background: #fff; color: #2b3440; }}
  button#allow {{ background: #58b847; border-color: #4aa53b; color: #fff; }}
  button:focus-visible {{ outline: 3px solid #9fd3ff; outline-offset: 1px; }}
  .note {{ color: #8a96a3; font-size: 13px; text-align: center; margin-top: 18px; }}
</style></head>
<body>
<div class="fake" id="fake-banner">Fake Podio for local development and tests
(django_podio.testing): no real Podio account is involved.</div>
<div class="top"><span class="logo">podio<span>.</span></span></div>
<main class="card">
  <div class="apps" aria-hidden="true"><div class="icon">{html.escape(client[:1].upper())}</div>
    <span class="dots">&bull;&bull;&bull;</span><div class="icon user">{initial}</div></div>
  <h1>Authorize {client}</h1>
  <p class="sub" id="app-name">{client} ({client_id}) wants to access your Podio account.</p>
  <p class="who" id="current-user">Logged in as <strong>{name}</strong>
  (<span id="current-mail">{html.escape(user.mail)}</span>)</p>
  <div class="perm"><h2>It will be able to</h2><ul>
    <li>see your profile and your e-mail address</li>
    <li>read and change what you can see in Podio, as you</li>
    <li id="scope">Requested scope: <code>{html.escape(scope)}</code></li>
  </ul></div>
  <form method="post" action="/oauth/authorize">
{hidden}
<div class="actions">
<button name="decision" value="deny" id="deny">Deny</button>
<button name="decision" value="allow" id="allow">Allow</button>
</div>
  </form>
  <p class="note">Allow sends you back to <strong>{target}</strong>.</p>
</main>
</body></html>
"""
        return Response(200, page.encode("utf-8"), HTML_TYPE)

    def _token(self, request: Request, *, v2: bool) -> Response:
        if v2:
            if not isinstance(request.json, dict):
                raise ApiError(400, "invalid_value", "Invalid value null (null): must be object")
            params: dict[str, Any] = dict(request.json)
        else:
            params = dict(_last(request.query))
            params.update(request.form or {})
        limit, remaining = self.take_rate_limit(("client", str(params.get("client_id"))), "login")
        headers = {
            "X-Rate-Limit-Limit": str(limit),
            "X-Rate-Limit-Remaining": str(remaining),
            "Cache-Control": "no-store",
        }
        try:
            payload = self.grant(params)
        except ApiError as error:
            error.headers = {**headers, **error.headers}
            raise
        if self.token_answer is not None:  # a test reshaping Podio's 200 body (odd fields)
            payload = self.token_answer(dict(payload))
        return json_response(200, payload, headers)

    # ------------------------------------------------------------------ API endpoints
    def _user_only(self, token: AccessToken) -> FakeUser:
        if token.ref_type != "user":
            raise ApiError(403, "forbidden", "This operation is not available to app tokens")
        with self._lock:
            user = self.users.get(token.ref_id)
        if user is None:
            raise ApiError(404, "not_found", "User not found")
        return user

    _app_access = staticmethod(app_access)
    _json_body = staticmethod(json_body)

    def _api_user_status(self, request: Request, token: AccessToken) -> Response:
        user = self._user_only(token)
        with self._lock:
            profile = self._profile(user)
        return json_response(
            200,
            {
                "user": {
                    "user_id": user.user_id,
                    "mail": user.mail,
                    "status": "active",
                    "locale": "en_GB",
                    "timezone": "Europe/Copenhagen",
                    "created_on": fmt_ts(user.created_on),
                    "activated_on": fmt_ts(user.created_on),
                },
                "profile": profile,
                "properties": {},
                "inbox_new": 0,
                "message_unread_count": 0,
                "calendar_code": None,
                "mailbox": None,
                "flags": [],
                "betas": [],
            },
        )

    def _api_user(self, request: Request, token: AccessToken) -> Response:
        user = self._user_only(token)
        return json_response(
            200,
            {
                "user_id": user.user_id,
                "profile_id": user.profile_id,
                "mail": user.mail,
                "name": user.name,
                "status": "active",
                "type": "user",
                "locale": "en_GB",
                "timezone": "Europe/Copenhagen",
                "created_on": fmt_ts(user.created_on),
                "activated_on": fmt_ts(user.created_on),
                "link": f"https://podio.com/users/{user.user_id}",
                "avatar": None,
                "mails": [{"mail": user.mail, "verified": True, "primary": True}],
            },
        )

    def _api_orgs(self, request: Request, token: AccessToken) -> Response:
        self._user_only(token)
        with self._lock:
            payload = [self._org_json(org) for org in self.orgs.values()]
        return json_response(200, payload)

    def _api_org_spaces(self, request: Request, token: AccessToken, org_id: str) -> Response:
        self._user_only(token)
        with self._lock:
            org = self.orgs.get(int(org_id))
            if org is None:
                raise ApiError(404, "not_found", "Organization not found")
            payload = [self._space_json(self.spaces[s]) for s in org.space_ids]
        return json_response(200, payload)

    def _api_space(self, request: Request, token: AccessToken, space_id: str) -> Response:
        self._user_only(token)
        with self._lock:
            space = self.spaces.get(int(space_id))
            if space is None:
                raise ApiError(404, "not_found", "Space not found")
            payload = self._space_json(space)
        return json_response(200, payload)

    def _api_space_apps(self, request: Request, token: AccessToken, space_id: str) -> Response:
        with self._lock:
            if int(space_id) not in self.spaces:
                raise ApiError(404, "not_found", "Space not found")
            apps = [
                self.app_json(app)
                for app in self.apps.values()
                if app.space_id == int(space_id)
                and (token.ref_type == "user" or app.app_id == token.ref_id)
            ]
        return json_response(200, apps)

    def _api_app(self, request: Request, token: AccessToken, app_id: str) -> Response:
        app = self.get_app(int(app_id))
        self._app_access(token, app.app_id)
        return json_response(200, self.app_json(app))

    def _api_item_get(self, request: Request, token: AccessToken, item_id: str) -> Response:
        item = self.get_item(int(item_id))
        self._app_access(token, item.app_id)
        return json_response(200, self.item_json(item))

    def _api_item_by_external_id(
        self, request: Request, token: AccessToken, app_id: str, external_id: str
    ) -> Response:
        self._app_access(token, int(app_id))
        item = self.item_by_external_id(int(app_id), unquote(external_id))
        return json_response(200, self.item_json(item))

    def _api_item_filter(self, request: Request, token: AccessToken, app_id: str) -> Response:
        self._app_access(token, int(app_id))
        page = self.filter_page(int(app_id), self._json_body(request))
        return Response(200, page, JSON_TYPE, {})

    def _api_item_list(self, request: Request, token: AccessToken, app_id: str) -> Response:
        self._app_access(token, int(app_id))
        body: dict[str, Any] = {}
        for name in ("limit", "offset", "sort_by", "sort_desc"):
            value = request.arg(name)
            if value is not None:
                body[name] = value
        return Response(200, self.filter_page(int(app_id), body), JSON_TYPE, {})

    def _api_item_count(self, request: Request, token: AccessToken, app_id: str) -> Response:
        self._app_access(token, int(app_id))
        app = self.get_app(int(app_id))
        with self._lock:
            return json_response(200, {"count": len(app.items)})

    # ------------------------------------------------------------------ hooks
    def _hook_access(self, token: AccessToken, ref_type: str, ref_id: int) -> None:
        if ref_type == "app":
            self._app_access(token, ref_id)

    def _api_hook_create(
        self, request: Request, token: AccessToken, ref_type: str, ref_id: str
    ) -> Response:
        body = self._json_body(request)
        self._hook_access(token, ref_type, int(ref_id))
        hook = self.create_hook(
            ref_type,
            int(ref_id),
            str(body.get("url") or ""),
            str(body.get("type") or ""),
            created_by=(token.ref_type, token.ref_id),
        )
        return json_response(200, {"hook_id": hook.hook_id})

    def _api_hook_list(
        self, request: Request, token: AccessToken, ref_type: str, ref_id: str
    ) -> Response:
        self._hook_access(token, ref_type, int(ref_id))
        with self._lock:
            hooks = [self.hook_json(h) for h in self.hooks_of(ref_type, int(ref_id))]
        return json_response(200, hooks)

    def _api_hook_delete(self, request: Request, token: AccessToken, hook_id: str) -> Response:
        with self._lock:
            hook = self.get_hook(int(hook_id))
            self._hook_access(token, hook.ref_type, hook.ref_id)
            self.delete_hook(hook.hook_id)
        return Response(204, b"", None)

    def _api_hook_validate(self, request: Request, token: AccessToken, hook_id: str) -> Response:
        body = self._json_body(request)
        with self._lock:
            hook = self.get_hook(int(hook_id))
            self._hook_access(token, hook.ref_type, hook.ref_id)
            self.validate_hook(hook.hook_id, body.get("code"))
        return Response(204, b"", None)

    def _api_hook_request(self, request: Request, token: AccessToken, hook_id: str) -> Response:
        with self._lock:
            hook = self.get_hook(int(hook_id))
            self._hook_access(token, hook.ref_type, hook.ref_id)
            self.request_hook_verification(hook.hook_id)
        return Response(204, b"", None)


def _last(query: dict[str, list[str]]) -> dict[str, str]:
    return {k: v[-1] for k, v in query.items() if v}


def _token_from(request: Request) -> str | None:
    header = request.headers.get("Authorization") or ""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() in ("oauth2", "bearer") and value.strip():
        return value.strip()
    return request.arg("oauth_token") or None
