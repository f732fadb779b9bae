"""A tiny HTTP server that answers from a script, for answers Podio itself never gives.

The fake Podio speaks Podio; a proxy or load balancer in front of it may answer 429 with any
``Retry-After`` header, or a 420 whose text names no number. Those odd answers come from here,
still over a real socket, so the transport is exercised exactly as in production.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    status: int
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


class ScriptedServer:
    """Answers requests with ``script`` in order; the last answer repeats forever."""

    def __init__(self, script: list[Answer]) -> None:
        self.script = list(script)
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with server._lock:
                    server.requests.append(Seen(self.command, self.path, dict(self.headers)))
                    answer = server.script.pop(0) if len(server.script) > 1 else server.script[0]
                if isinstance(answer.body, bytes):  # sent as is (JSON no parser can read)
                    body = answer.body
                else:
                    body = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> ScriptedServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def scripted(*answers: Answer) -> Iterator[ScriptedServer]:
    with ScriptedServer(list(answers)) as server:
        yield server


def podio_420(description: str) -> Answer:
    return Answer(420, {"error": "rate_limit", "error_description": description})


def too_deep_json(depth: int = 100_000) -> Answer:
    """A 200 whose JSON is nested deeper than Python's parser goes: ``RecursionError``, not
    ``ValueError``, escapes from ``response.json()``. Tests use it as an unexpected exception
    raised inside a call to Podio, with every frame of that call on the stack."""
    return Answer(200, b"[" * depth + b"]" * depth)
