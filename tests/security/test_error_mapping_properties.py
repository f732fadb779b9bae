"""Property tests: whatever Podio (or a proxy in front of it) answers, the caller gets one of
our exception classes, and no secret that was in the answer reaches its text."""

from __future__ import annotations

import json

import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from django_podio import exceptions as exc
from django_podio.api.errors import error_from_response

SECRET = st.text(alphabet="abcdef0123456789ABCDEFghijklmnopqrstuvwxyz_-", min_size=32, max_size=128)
TEXT = st.text(max_size=60)


def response(status: int, body: bytes, headers: dict[str, str]) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = body
    r.headers.update(headers)
    r.url = "https://api.podio.com/item/1"
    return r


@st.composite
def bodies(draw, secret: str) -> bytes:
    kind = draw(st.sampled_from(["podio", "json_other", "html", "empty", "truncated", "binary"]))
    podio = {
        "error": draw(
            st.one_of(
                st.none(),
                st.sampled_from(
                    [
                        "invalid_grant",
                        "unauthorized",
                        "invalid_token",
                        "forbidden",
                        "not_found",
                        "rate_limit",
                        "gone",
                        "unavailable",
                    ]
                ),
                TEXT,
            )
        ),
        "error_description": draw(
            st.sampled_from(
                [
                    f"expired_token {secret}",
                    f"Invalid refresh token {secret}",
                    "You have hit the rate limit. Please wait 42 seconds before trying again",
                    secret,
                ]
            )
        ),
        "error_detail": draw(st.one_of(st.none(), st.just(secret), TEXT)),
        "error_parameters": {"token": secret},
        "request": {"url": f"http://api.podio.com/x?oauth_token={secret}", "method": "GET"},
    }
    if kind == "podio":
        return json.dumps(podio).encode()
    if kind == "json_other":
        return json.dumps(draw(st.one_of(st.lists(TEXT), st.integers(), st.just(secret)))).encode()
    if kind == "html":
        return f"<html><body>Bad gateway {secret}</body></html>".encode()
    if kind == "empty":
        return b""
    if kind == "truncated":
        return json.dumps(podio).encode()[: draw(st.integers(1, 40))]
    return draw(st.binary(max_size=50))


@settings(max_examples=400, deadline=None)
@given(
    status=st.integers(400, 599),
    data=st.data(),
    secret=SECRET,
    www=st.sampled_from(["", 'Bearer realm="podio", error="expired_token"']),
)
def test_any_error_answer_maps_to_our_exceptions_without_secrets(status, data, secret, www):
    headers = {"X-Podio-Request-Id": "abc123"}
    if www:
        headers["WWW-Authenticate"] = www
    body = data.draw(bodies(secret))
    error = error_from_response(response(status, body, headers), "GET", "/item/1")
    assert isinstance(error, exc.PodioAPIError) and error.status == status
    if status == 401:
        assert isinstance(error, (exc.TokenExpired, exc.InvalidToken))
    if status in (420, 429):
        assert isinstance(error, exc.RateLimited)
    if status >= 500:
        assert isinstance(error, exc.ServerError)
    for text in (str(error), repr(error), repr(error.__dict__)):
        assert secret not in text


@given(secret=SECRET)
def test_rate_limit_wait_is_read_from_the_description(secret):
    body = json.dumps(
        {
            "error": "rate_limit",
            "error_description": "You have hit the rate limit. Please wait 300 seconds before "
            "trying again",
        }
    ).encode()
    error = error_from_response(response(420, body, {}), "POST", "/item/app/1/filter/")
    assert isinstance(error, exc.RateLimited) and error.wait_seconds == 300
