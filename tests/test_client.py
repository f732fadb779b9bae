"""PodioClient and the token endpoint against the fake Podio: errors, retries, 420, refresh."""

from __future__ import annotations

import pytest
import requests

from django_podio import exceptions as exc
from django_podio.api import oauth
from django_podio.api.client import ForeignURL, PodioClient

from .scripted import Answer, scripted


@pytest.fixture
def client(fake, user_token, sleeper):
    with PodioClient(user_token.access_token, api_url=fake.url, sleep=sleeper) as c:
        yield c


def test_get_with_oauth2_header_and_rate_limit_tracking(client, fake, user_token):
    status = client.get("/user/status")
    assert status["user"]["mail"] == "grace@example.com"
    request = fake.requests_to("/user/status")[-1]
    assert request.headers["Authorization"] == f"OAuth2 {user_token.access_token}"
    limit, remaining = client.rate_limit
    assert limit == fake.rate_limit_general and remaining == limit - 1


def test_error_mapping_not_found_with_podio_fields(client):
    with pytest.raises(exc.NotFound) as info:
        client.get("/no/such/route")
    error = info.value
    assert error.status == 404 and error.error == "not_found"
    assert "No matching operation" in error.description
    assert error.request_id
    assert "404" in str(error) and "/no/such/route" in str(error)


def test_invalid_token_without_refresh_raises(fake):
    with PodioClient("x" * 128, api_url=fake.url) as c, pytest.raises(exc.InvalidToken):
        c.get("/user/status")


def test_app_token_cannot_reach_another_app(fake, creds):
    app = fake.add_app(name="Mine")
    other = fake.add_app(name="Other")
    token = oauth.app_auth(app.app_id, app.app_token, credentials=creds)
    assert token.ref_type == "app" and token.ref_id == app.app_id
    with PodioClient(token.access_token, api_url=fake.url) as c:
        assert c.get(f"/app/{app.app_id}")["app_id"] == app.app_id
        with pytest.raises(exc.Forbidden):
            c.get(f"/app/{other.app_id}")


@pytest.mark.parametrize("kind", ["500", "502", "503", "drop", "malformed_json"])
def test_safe_reads_are_retried_with_backoff(client, fake, sleeper, kind):
    fake.add_fault(kind, path="/user/status", count=2)
    assert client.get("/user/status")["user"]["mail"] == "grace@example.com"
    assert len(sleeper.calls) == 2
    assert all(0 <= s <= 30 for s in sleeper.calls)
    assert len(fake.requests_to("/user/status")) == 3


def test_retries_give_up_after_max_retries(client, fake, sleeper):
    fake.add_fault("500", path="/user/status", count=10)
    with pytest.raises(exc.ServerError):
        client.get("/user/status")
    assert len(fake.requests_to("/user/status")) == 1 + client.transport.max_retries


def test_dropped_connection_becomes_podio_connection_error(client, fake):
    client.transport.max_retries = 0
    fake.add_fault("drop", path="/user/status")
    with pytest.raises(exc.PodioConnectionError) as info:
        client.get("/user/status")
    assert isinstance(info.value, exc.PodioError)


def test_writes_are_never_replayed(client, fake, sleeper):
    app = fake.add_app()
    fake.add_fault("500", path=f"/item/app/{app.app_id}", method="POST")
    with pytest.raises(exc.ServerError):
        client.post(f"/item/app/{app.app_id}/", {"fields": {"title": "x"}})
    assert len(fake.requests_to(f"/item/app/{app.app_id}", method="POST")) == 1
    assert sleeper.calls == []


def test_filter_post_is_a_safe_read(client, fake, sleeper):
    app = fake.add_app()
    fake.add_items(app.app_id, 3)
    fake.add_fault("503", path=f"/item/app/{app.app_id}/filter")
    page = client.filter_items(app.app_id, {"limit": 10})
    assert page["filtered"] == 3 and len(sleeper.calls) == 1


def test_rate_limit_short_wait_is_waited_out(client, fake, sleeper):
    fake.add_rate_limit(5, path="/user/status")
    assert client.get("/user/status")
    assert sleeper.calls == [5]


def test_rate_limit_long_wait_raises_with_seconds(client, fake, sleeper):
    fake.add_rate_limit(300, path="/user/status")
    with pytest.raises(exc.RateLimited) as info:
        client.get("/user/status")
    assert info.value.wait_seconds == 300 and info.value.status == 420
    assert sleeper.calls == []
    assert len(fake.requests_to("/user/status")) == 1


def test_expired_token_refreshes_once_and_replays(fake, user_token, creds):
    calls = []

    def refresh(stale):
        calls.append(stale)
        return oauth.refresh(user_token.refresh_token, credentials=creds).access_token

    fake.expire_access_tokens()
    with PodioClient(user_token.access_token, api_url=fake.url, refresh=refresh) as c:
        assert c.get("/user/status")["user"]["mail"] == "grace@example.com"
    assert calls == [user_token.access_token]


def test_second_401_after_refresh_is_raised(fake, user_token):
    with PodioClient(
        user_token.access_token, api_url=fake.url, refresh=lambda stale: "y" * 128
    ) as c:
        fake.expire_access_tokens()
        with pytest.raises(exc.InvalidToken):
            c.get("/user/status")


def test_refresh_grant_rotates(fake, user_token, creds):
    new = oauth.refresh(user_token.refresh_token, credentials=creds)
    assert new.refresh_token != user_token.refresh_token
    with pytest.raises(exc.InvalidGrant):
        oauth.refresh(user_token.refresh_token, credentials=creds)


def test_client_credentials_points_to_app_authentication(fake, creds):
    with pytest.raises(exc.PodioConfigurationError) as info:
        oauth.client_credentials(credentials=creds)
    assert "app authentication" in str(info.value)


def test_wrong_password_is_invalid_grant(fake, creds):
    with pytest.raises(exc.InvalidGrant):
        oauth.password("nobody@example.com", "nope", credentials=creds)


def test_reprs_hold_no_secret(client, user_token, creds):
    assert user_token.access_token not in repr(client)
    assert user_token.access_token not in repr(user_token)
    assert user_token.refresh_token not in repr(user_token)
    assert creds.secret not in repr(creds)


def test_session_is_reused(client, fake):
    fake.reset_log()
    for _ in range(5):
        client.get("/user/status")
    # Keep-alive: all five requests arrived over one TCP connection (one client port).
    assert len({r.client_address for r in fake.requests_to("/user/status")}) == 1
    assert isinstance(client.session, requests.Session)


def test_500_reads_at_20_percent_faults_all_succeed(fake, user_token, sleeper):
    fake.rate_limit_general = 10**6
    app = fake.add_app(name="Faulty")
    ids = fake.add_items(app.app_id, 20)
    fake.set_fault_rate(0.2)
    with PodioClient(user_token.access_token, api_url=fake.url, sleep=sleeper, max_retries=6) as c:
        for i in range(500):
            assert c.get_item(ids[i % 20])["item_id"] == ids[i % 20]
    item_requests = fake.requests_to("/item/")
    retries = len(sleeper.calls)  # one backoff sleep before each retry
    assert len(item_requests) == 500 + retries
    assert 60 < retries < 180  # about 20 % of the attempts failed (malformed JSON answers 200)
    assert {r.status for r in item_requests} >= {0, 200, 500, 502, 503}


def test_failed_writes_are_reported_not_replayed(fake, user_token, sleeper):
    fake.rate_limit_general = 10**6
    app = fake.add_app(name="Faulty")
    ids = fake.add_items(app.app_id, 5)
    fake.set_fault_rate(0.2)
    failures = 0
    with PodioClient(user_token.access_token, api_url=fake.url, sleep=sleeper, max_retries=6) as c:
        for i in range(100):
            try:
                c.put(f"/item/{ids[i % 5]}", {"fields": {"title": f"edit {i}"}})
            except (exc.ServerError, exc.PodioConnectionError):
                failures += 1
    puts = fake.requests_to("/item/", method="PUT")
    assert len(puts) == 100
    # Every fault surfaced as an error (a truncated 200 body too), none was retried.
    assert failures >= len([r for r in puts if r.status != 200]) > 0
    assert sleeper.calls == []


def test_debug_logs_and_errors_carry_no_secret(fake, user_token, creds, caplog, sleeper):
    import logging

    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    texts = []
    fake.expire_access_tokens()
    with PodioClient(
        user_token.access_token,
        api_url=fake.url,
        sleep=sleeper,
        refresh=lambda stale: (
            oauth.refresh(user_token.refresh_token, credentials=creds).access_token
        ),
    ) as c:
        c.get("/user/status")
        for kind in ("500", "drop", "html", "malformed_json"):
            fake.add_fault(kind, path="/user/status", count=10)
            try:
                c.get("/user/status")
            except exc.PodioError as error:
                texts.append(f"{error} {error!r}")
    for grant in (
        lambda: oauth.refresh("dead-refresh-token-" + "x" * 40, credentials=creds),
        lambda: oauth.password("grace@example.com", "wrong", credentials=creds),
    ):
        try:
            grant()
        except exc.PodioError as error:
            texts.append(f"{error} {error!r}")
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert len(texts) == 6 and "urllib3" in {r.name.split(".")[0] for r in caplog.records}
    for secret in fake.issued_secrets() | {"dead-refresh-token-" + "x" * 40}:
        assert secret not in logs and all(secret not in t for t in texts)


def test_environment_proxies_and_ca_bundle_are_still_honoured(monkeypatch):
    import os

    from django_podio.api.transport import Transport

    for name in list(os.environ):
        if name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    session = Transport().session
    assert session.trust_env is False
    assert session.verify == "/etc/ssl/certs/ca-certificates.crt"
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert Transport().session.trust_env is True


# Credentials go only to API_URL's origin (scheme, host, port) -------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "{other}/user/status",  # another port on the same host
        "http://localhost:{port}/user/status",  # another host name
        "https://127.0.0.1:{port}/user/status",  # another scheme
        "//127.0.0.1:{other_port}/user/status",  # scheme-relative
        "http://x@127.0.0.1:{port}/user/status",  # user info
        "http://127.0.0.1:{port}@127.0.0.1:{other_port}/user/status",  # host after user info
        "HTTP://127.0.0.1:{other_port}/user/status",  # upper-case scheme
        "ftp://127.0.0.1:{port}/user/status",
    ],
)
def test_absolute_urls_elsewhere_are_refused_before_sending(client, fake, template):
    with scripted(Answer(200, {"stolen": True})) as other:
        other_port = other.url.rsplit(":", 1)[1]
        url = template.format(other=other.url, port=fake.port, other_port=other_port)
        fake.reset_log()
        with pytest.raises(ForeignURL) as info:
            client.get(url)
        assert other.requests == [] and fake.requests_to("/user/status") == []
    assert "only to" in str(info.value) and "OAuth2" not in str(info.value)


def test_absolute_url_on_the_api_origin_is_fine(client, fake):
    assert client.get(f"{fake.url}/user/status")["user"]["mail"] == "grace@example.com"
    assert client.get(f"{fake.url.upper().replace('HTTP://', 'http://')}/user/status")


def test_a_redirect_elsewhere_does_not_carry_the_token(fake, user_token):
    with scripted(Answer(200, {"elsewhere": True})) as other:
        with scripted(Answer(302, None, {"Location": f"{other.url}/landing"})) as api:
            with PodioClient(user_token.access_token, api_url=api.url) as c:
                assert c.get("/user/status") == {"elsewhere": True}
            assert api.requests[0].headers["Authorization"].startswith("OAuth2 ")
        assert len(other.requests) == 1
        assert "Authorization" not in other.requests[0].headers
