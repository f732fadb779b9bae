"""The fake's side of HTTP, shared by its route modules: parsed requests, answers, errors."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from .records import AccessToken, ApiError, Headers

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
NO_ROUTE = "No matching operation could be found. No body was given."


@dataclass
class Request:
    method: str
    path: str
    raw_query: str
    query: dict[str, list[str]]
    headers: Headers
    body: bytes
    json: Any
    form: dict[str, str] | None
    json_error: bool = False
    files: dict[str, Any] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """Repeated query parameters: the last one wins, as on Podio."""
        values = self.query.get(name)
        return values[-1] if values else default


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Response(status, body, JSON_TYPE, dict(headers or {}))


def error_response(error: ApiError, request: Request) -> Response:
    payload = {
        "error": error.error,
        "error_description": error.description,
        "error_detail": error.detail,
        "error_parameters": error.parameters,
        "error_propagate": False,
        "request": {
            "url": "http://api.podio.com" + request.path,
            "query_string": request.raw_query,
            "method": request.method,
        },
    }
    return json_response(error.status, payload, error.headers)


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, Any]]:
    """A ``multipart/form-data`` body: its plain fields, and its files as
    ``{name: (filename, bytes, content type)}`` (an upload's ``source``)."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    form: dict[str, str] = {}
    files: dict[str, Any] = {}
    if not message.is_multipart():
        return form, files
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = (filename, data, part.get_content_type())
        else:
            form[name] = data.decode("utf-8", "replace")
    return form, files


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (``{}`` when there is no body), or Podio's 400."""
    if request.json_error:
        raise ApiError(400, "bad_request", "The body is not valid JSON")
    if request.json is None:
        return {}
    if not isinstance(request.json, dict):
        raise ApiError(400, "invalid_value", "Invalid value (array): must be object")
    return request.json


def app_access(token: AccessToken, app_id: int) -> None:
    """An app's token reaches its own app only."""
    if token.ref_type == "app" and token.ref_id != int(app_id):
        raise ApiError(403, "forbidden", "The app token only gives access to its own app")


def flag(request: Request, name: str, default: bool) -> bool:
    """A boolean query option as Podio's clients send them (``true``/``false``, ``1``/``0``)."""
    value = request.arg(name)
    if value is None or value == "":
        return default
    return value.strip().lower() not in ("false", "0", "no")
