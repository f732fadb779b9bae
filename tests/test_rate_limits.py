"""Rate-limit answers (420, and 429 from whatever sits in front of Podio) never loop.

The rules under test (``Transport.send``): only reads are replayed after a rate-limit answer;
each wait is at least one second and is counted against ``RATE_LIMIT_MAX_WAIT``; at most
``MAX_RATE_LIMIT_WAITS`` waits per logical request; a wait that cannot be read is not guessed.
"""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from django_podio import exceptions as exc
from django_podio.api import oauth
from django_podio.api.client import PodioClient
from django_podio.api.transport import MAX_RATE_LIMIT_WAITS, MIN_RATE_LIMIT_WAIT

from .scripted import Answer, podio_420, scripted

OK = Answer(200, {"ok": True})


@pytest.fixture
def api(fake, user_token, sleeper):
    fake.rate_limit_general = 10**6
    with PodioClient(user_token.access_token, api_url=fake.url, sleep=sleeper) as c:
        yield c


def assert_bounded(sleeper, requests_made: int, max_wait: float = 60) -> None:
    assert requests_made <= 1 + MAX_RATE_LIMIT_WAITS
    assert len(sleeper.calls) == requests_made - 1
    assert all(s >= MIN_RATE_LIMIT_WAIT for s in sleeper.calls)
    assert sum(sleeper.calls) <= max_wait


def test_podio_asking_zero_seconds_is_not_retried_forever(api, fake, sleeper):
    fake.add_rate_limit(0, path="/user/status", count=50)
    with pytest.raises(exc.RateLimited) as info:
        api.get("/user/status")
    assert_bounded(sleeper, len(fake.requests_to("/user/status")))
    assert info.value.wait_seconds == 1  # "0 seconds" is read as the shortest honest wait


def test_many_short_waits_are_bounded_in_count(api, fake, sleeper):
    fake.add_rate_limit(5, path="/user/status", count=10)  # 50 s in all: within the 60 s budget
    with pytest.raises(exc.RateLimited):
        api.get("/user/status")
    assert len(fake.requests_to("/user/status")) == 1 + MAX_RATE_LIMIT_WAITS
    assert sleeper.calls == [5] * MAX_RATE_LIMIT_WAITS


def test_a_rate_limited_write_is_never_replayed(api, fake, sleeper):
    app = fake.add_app()
    fake.add_rate_limit(5, path=f"/item/app/{app.app_id}", count=1)
    with pytest.raises(exc.RateLimited) as info:
        api.post(f"/item/app/{app.app_id}/", {"fields": {"title": "once"}})
    assert info.value.wait_seconds == 5  # the caller (or a task) decides when to try again
    assert len(fake.requests_to(f"/item/app/{app.app_id}", method="POST")) == 1
    assert sleeper.calls == []


def test_a_rate_limited_token_request_is_not_replayed(fake, creds, user_token, sleeper):
    fake.add_rate_limit(2, path="/oauth/token", count=1)
    with pytest.raises(exc.RateLimited):
        oauth.refresh(user_token.refresh_token, credentials=creds)
    assert len(fake.requests_to("/oauth/token", method="POST")) == 2  # the login, then one


def test_a_429_with_retry_after_zero_never_replays_a_post(sleeper):
    answers = [Answer(429, None, {"Retry-After": "0"})] * 50 + [OK]
    with (
        scripted(*answers) as server,
        PodioClient("t" * 40, api_url=server.url, sleep=sleeper) as c,
    ):
        with pytest.raises(exc.RateLimited):
            c.post("/item/app/1/", {"fields": {"title": "x"}})
        assert len(server.requests) == 1
    assert sleeper.calls == []


@pytest.mark.parametrize(
    "answer",
    [
        Answer(429, None, {"Retry-After": "0"}),
        Answer(429, None, {"Retry-After": "-5"}),
        Answer(429, None, {"Retry-After": "soon"}),
        Answer(429, None, {"Retry-After": "1e9"}),
        Answer(429, None, {"Retry-After": "99999999999999999999999"}),
        Answer(429, None, {"Retry-After": formatdate(0, usegmt=True)}),  # long past
        Answer(429, None, {}),
        Answer(429, "not an object"),
        podio_420("You have hit the rate limit. Please wait 0 seconds before trying again"),
        podio_420("You have hit the rate limit. Please wait -3 seconds before trying again"),
        podio_420("You have hit the rate limit. Please wait a moment"),
        podio_420("Please wait 99999999999999999999999999 seconds"),
        Answer(420, None),
    ],
    ids=lambda a: f"{a.status}-{a.headers or a.body}"[:60],
)
def test_odd_rate_limit_answers_to_a_read_end_quickly(sleeper, answer):
    with (
        scripted(*([answer] * 100 + [OK])) as server,
        PodioClient("t" * 40, api_url=server.url, sleep=sleeper) as c,
    ):
        with pytest.raises(exc.RateLimited) as info:
            c.get("/user/status")
        assert_bounded(sleeper, len(server.requests))
    wait = info.value.wait_seconds
    assert wait is None or 1 <= wait <= 3600  # usable by a task that re-enqueues itself


def test_retry_after_as_a_date_is_waited_out(sleeper):
    soon = formatdate(time.time() + 3, usegmt=True)
    with (
        scripted(Answer(429, None, {"Retry-After": soon}), OK) as server,
        PodioClient("t" * 40, api_url=server.url, sleep=sleeper) as c,
    ):
        assert c.get("/user/status") == {"ok": True}
        assert len(server.requests) == 2
    assert len(sleeper.calls) == 1 and 1 <= sleeper.calls[0] <= 4


def test_the_seconds_budget_still_holds(api, fake, sleeper, settings):
    api.transport.rate_limit_max_wait = 10
    fake.add_rate_limit(6, path="/user/status", count=2)
    with pytest.raises(exc.RateLimited) as info:
        api.get("/user/status")
    assert sleeper.calls == [6] and info.value.wait_seconds == 6
    assert len(fake.requests_to("/user/status")) == 2
