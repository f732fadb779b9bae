"""The fake Podio itself, over real HTTP: OAuth, API shapes, time, faults, limits, logging.

Plain pytest + requests (no Django), so the fake's fidelity is checked independently of the
code that relies on it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from django_podio.testing import FakePodio

REDIRECT = "http://localtest.me:8000/accounts/podio/login/callback/"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fp():
    with FakePodio() as fake:
        yield fake


def creds(fake: FakePodio) -> dict[str, str]:
    return {"client_id": fake.client_id, "client_secret": fake.client_secret}


def authorize(fake: FakePodio, **params: str) -> requests.Response:
    query = {"client_id": fake.client_id, "redirect_uri": REDIRECT, "response_type": "code"}
    query.update(params)
    return requests.get(fake.authorize_url, params=query, allow_redirects=False, timeout=5)


def location_params(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return {k: v[-1] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def get_code(fake: FakePodio, **params: str) -> str:
    return location_params(authorize(fake, **params))["code"]


def token_call(fake: FakePodio, v2: bool = False, **params: object) -> requests.Response:
    body = {**creds(fake), **params}
    if v2:
        return requests.post(fake.token_url + "/v2", json=body, timeout=5)
    return requests.post(fake.token_url, data=body, timeout=5)


def exchange(fake: FakePodio, code: str, v2: bool = False) -> dict:
    response = token_call(
        fake, v2, grant_type="authorization_code", code=code, redirect_uri=REDIRECT
    )
    assert response.status_code == 200, response.text
    return response.json()


def login(fake: FakePodio) -> dict:
    return exchange(fake, get_code(fake))


def api(
    fake: FakePodio, token: str | None, method: str, path: str, scheme: str = "OAuth2", **kw
) -> requests.Response:
    headers = {"Authorization": f"{scheme} {token}"} if token else {}
    return requests.request(method, fake.url + path, headers=headers, timeout=5, **kw)


def assert_error(response: requests.Response, status: int, error: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert body["error"] == error
    assert set(body) == {
        "error",
        "error_description",
        "error_detail",
        "error_parameters",
        "error_propagate",
        "request",
    }
    assert body["request"]["url"].startswith("http://api.podio.com/")
    return body


# ---------------------------------------------------------------------------- OAuth


@pytest.mark.parametrize("v2", [False, True])
def test_code_flow_then_user_status_with_every_auth_style(fp, v2):
    user = fp.add_user(mail="ada@example.com", name="Ada Lovelace")
    params = location_params(authorize(fp, state="xyz", scope="global:all"))
    assert params["state"] == "xyz" and params["code"].startswith("fpcode")
    tokens = exchange(fp, params["code"], v2=v2)
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 28800
    assert tokens["ref"] == {"type": "user", "id": user.user_id}
    assert tokens["scope"] == "global:all"
    assert len(tokens["access_token"]) == 128 and len(tokens["refresh_token"]) == 64
    for scheme in ("OAuth2", "Bearer"):
        status = api(fp, tokens["access_token"], "GET", "/user/status", scheme=scheme)
        assert status.status_code == 200
        body = status.json()
        assert body["user"]["mail"] == "ada@example.com" and body["user"]["status"] == "active"
        assert body["profile"]["name"] == "Ada Lovelace"
        assert body["profile"]["mail"] == ["ada@example.com"]
        assert len(body["user"]["created_on"]) == 19
    by_query = requests.get(
        fp.url + "/user/", params={"oauth_token": tokens["access_token"]}, timeout=5
    )
    assert by_query.json()["user_id"] == user.user_id


def test_code_is_single_use_and_bound_to_redirect_uri(fp):
    code = get_code(fp)
    exchange(fp, code)
    again = token_call(fp, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert_error(again, 400, "invalid_grant")
    other = get_code(fp)
    wrong = token_call(fp, grant_type="authorization_code", code=other, redirect_uri=REDIRECT + "x")
    assert_error(wrong, 400, "invalid_grant")


def test_code_expires_after_ten_minutes(fp):
    code = get_code(fp)
    fp.advance(601)
    late = token_call(fp, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert_error(late, 400, "invalid_grant")


def test_deny_mode_redirects_with_podio_error_triple(fp):
    fp.authorize_mode = "deny"
    response = authorize(fp, state="s1")
    assert response.headers["Location"] == (
        REDIRECT + "?error_reason=user_denied&error=access_denied"
        "&error_description=The+user+denied+your+request.&state=s1"
    )


def test_consent_page_allow_and_deny(fp):
    fp.add_user(mail="grace@example.com", name="Grace Hopper")
    fp.authorize_mode = "consent"
    page = authorize(fp, state="st")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "Grace Hopper" in page.text and fp.client_name in page.text
    assert '<button name="decision" value="allow" id="allow">Allow</button>' in page.text
    form = {"client_id": fp.client_id, "redirect_uri": REDIRECT, "state": "st"}
    allowed = requests.post(
        fp.authorize_url, data={**form, "decision": "allow"}, allow_redirects=False, timeout=5
    )
    params = location_params(allowed)
    assert params["state"] == "st"
    assert exchange(fp, params["code"])["ref"]["id"] == fp.current_user.user_id
    denied = requests.post(
        fp.authorize_url, data={**form, "decision": "deny"}, allow_redirects=False, timeout=5
    )
    assert location_params(denied)["error"] == "access_denied"


def test_authorize_rejects_unknown_client_without_redirect(fp):
    response = authorize(fp, client_id="someone-else")
    assert response.status_code == 400 and "Location" not in response.headers


def test_implicit_flow_puts_tokens_in_the_fragment(fp):
    response = authorize(fp, response_type="token", state="f")
    fragment = parse_qs(urlsplit(response.headers["Location"]).fragment)
    assert fragment["token_type"] == ["bearer"] and fragment["state"] == ["f"]
    token = fragment["access_token"][0]
    assert api(fp, token, "GET", "/user/status").status_code == 200


def test_token_endpoint_client_checks_and_v2_body_format(fp):
    code = get_code(fp)
    bad = requests.post(
        fp.token_url,
        data={"client_id": fp.client_id, "client_secret": "nope", "grant_type": "password"},
        timeout=5,
    )
    assert_error(bad, 401, "invalid_client")
    form_to_v2 = requests.post(
        fp.token_url + "/v2",
        data={**creds(fp), "grant_type": "authorization_code", "code": code},
        timeout=5,
    )
    body = assert_error(form_to_v2, 400, "invalid_value")
    assert body["error_description"] == "Invalid value null (null): must be object"
    assert_error(token_call(fp, grant_type="client_credentials"), 400, "unsupported_grant_type")
    assert_error(requests.get(fp.token_url, timeout=5), 404, "not_found")


def test_refresh_rotates_strictly(fp):
    first = login(fp)
    second = token_call(fp, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200
    second = second.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    reused = token_call(fp, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert_error(reused, 400, "invalid_grant")
    third = token_call(fp, True, grant_type="refresh_token", refresh_token=second["refresh_token"])
    assert third.status_code == 200
    # The old access token keeps working until it expires.
    assert api(fp, first["access_token"], "GET", "/user/status").status_code == 200
    assert fp.refresh_grants_used == 2


def test_refresh_without_strict_rotation_allows_reuse():
    with FakePodio(strict_rotation=False) as fake:
        first = login(fake)
        for _ in range(2):
            again = token_call(
                fake, grant_type="refresh_token", refresh_token=first["refresh_token"]
            )
            assert again.status_code == 200 and again.json()["refresh_token"]


def test_revoked_refresh_tokens_answer_invalid_grant(fp):
    tokens = login(fp)
    fp.revoke_refresh_tokens()
    dead = token_call(fp, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert_error(dead, 400, "invalid_grant")


def test_expired_access_token_body_and_header(fp):
    tokens = login(fp)
    fp.expire_access_tokens()
    response = api(fp, tokens["access_token"], "GET", "/user/status")
    body = assert_error(response, 401, "unauthorized")
    assert body["error_description"] == "expired_token"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="podio", error="expired_token"'
    fresh = token_call(fp, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert api(fp, fresh.json()["access_token"], "GET", "/user/status").status_code == 200


def test_advancing_the_clock_expires_tokens():
    with FakePodio(access_token_ttl=60) as fake:
        tokens = login(fake)
        assert tokens["expires_in"] == 60
        fake.advance(59)
        assert api(fake, tokens["access_token"], "GET", "/user/status").status_code == 200
        fake.advance(2)
        response = api(fake, tokens["access_token"], "GET", "/user/status")
        assert response.json()["error_description"] == "expired_token"


def test_missing_and_unknown_tokens(fp):
    assert_error(api(fp, None, "GET", "/user/status"), 401, "unauthorized")
    assert_error(api(fp, "x" * 128, "GET", "/user/status"), 401, "invalid_token")


def test_password_grant(fp):
    user = fp.add_user(mail="lin@example.com", password="s3cret")
    ok = token_call(fp, grant_type="password", username="lin@example.com", password="s3cret")
    assert ok.json()["ref"] == {"type": "user", "id": user.user_id}
    wrong = token_call(fp, grant_type="password", username="lin@example.com", password="x")
    assert_error(wrong, 400, "invalid_grant")


def test_app_grant_and_its_restrictions(fp):
    app = fp.add_app(name="Mine")
    other = fp.add_app(name="Other")
    item = fp.add_item(app.app_id, fields={"title": "Mine 1"})
    foreign = fp.add_item(other.app_id, fields={"title": "Theirs"})
    assert app.app_token.startswith("fpapptok") and len(app.app_token) == 32
    wrong = token_call(fp, grant_type="app", app_id=app.app_id, app_token=other.app_token)
    assert_error(wrong, 400, "invalid_grant")
    tokens = token_call(fp, True, grant_type="app", app_id=app.app_id, app_token=app.app_token)
    tokens = tokens.json()
    assert tokens["ref"] == {"type": "app", "id": app.app_id} and tokens["refresh_token"]
    token = tokens["access_token"]
    assert api(fp, token, "GET", f"/app/{app.app_id}").json()["app_id"] == app.app_id
    assert api(fp, token, "GET", f"/item/{item['item_id']}").status_code == 200
    assert_error(api(fp, token, "GET", f"/app/{other.app_id}"), 403, "forbidden")
    assert_error(api(fp, token, "GET", f"/item/{foreign['item_id']}"), 403, "forbidden")
    assert_error(api(fp, token, "GET", "/user/status"), 403, "forbidden")
    created = api(fp, token, "POST", f"/item/app/{app.app_id}/", json={"fields": {"title": "B"}})
    made = fp.get_item(created.json()["item_id"])
    assert made.created_by == ("app", app.app_id)


# ---------------------------------------------------------------------------- API data


def test_orgs_and_app_shapes(fp):
    demo = fp.seed_demo(items=3)
    token = login(fp)["access_token"]
    assert fp.current_user.mail == "demo@example.com"
    [org] = api(fp, token, "GET", "/org/").json()
    assert org["name"] == "Demo Org" and org["spaces"][0]["space_id"] == demo["space_id"]
    app = api(fp, token, "GET", f"/app/{demo['app_id']}").json()
    assert app["config"]["name"] == "Projects" and "token" not in app
    types = {f["external_id"]: f["type"] for f in app["fields"]}
    assert types["status"] == "category" and types["related"] == "app"


def test_item_json_read_shapes(fp):
    demo = fp.seed_demo(items=5)
    token = login(fp)["access_token"]
    item_id = fp.add_items(demo["app_id"], 1)[0]
    response = api(fp, token, "GET", f"/item/{item_id}", params={"mark_as_viewed": "false"})
    item = response.json()
    assert fp.requests_to("/item/")[-1].query == {"mark_as_viewed": ["false"]}
    for key in ("item_id", "app_item_id", "title", "link", "revision", "created_on", "app"):
        assert key in item
    assert item["created_by"]["type"] == "user" and item["files"] == []
    assert len(item["last_event_on"]) == 19 and item["last_event_on"][10] == " "
    values = {f["external_id"]: f["values"] for f in item["fields"]}
    assert set(values) >= {"title", "amount", "budget", "status", "due-date", "owner"}
    assert isinstance(values["amount"][0]["value"], str) and values["amount"][0]["value"][-5] == "."
    assert set(values["budget"][0]) == {"value", "currency"}
    assert set(values["status"][0]["value"]) == {"id", "text", "status", "color"}
    assert {"start", "start_date", "start_time", "start_utc", "end"} <= set(values["due-date"][0])
    assert values["owner"][0]["value"]["user_id"] == demo["user"].user_id
    assert values["related"][0]["value"]["app"]["app_id"] == demo["app_id"]
    assert values["email"][0]["type"] == "work" and "@" in values["email"][0]["value"]
    assert isinstance(values["progress"][0]["value"], int)
    assert isinstance(values["duration"][0]["value"], int)
    assert values["calculation"][0]["value"].endswith(tuple("0123456789"))
    assert item["title"] == values["title"][0]["value"]


def test_generator_is_deterministic_by_seed():
    def titles(seed: int) -> list[str]:
        with FakePodio(seed=seed) as fake:
            app = fake.add_app()
            ids = fake.add_items(app.app_id, 5)
            return [fake.item_json(fake.get_item(i))["title"] for i in ids]

    assert titles(1) == titles(1) != titles(2)


def test_paging_1234_items_at_500(fp):
    app = fp.add_app()
    ids = fp.add_items(app.app_id, 1234)
    token = login(fp)["access_token"]
    seen, calls, offset = [], 0, 0
    while True:
        page = api(
            fp,
            token,
            "POST",
            f"/item/app/{app.app_id}/filter/",
            json={"limit": 500, "offset": offset, "sort_by": "item_id", "sort_desc": False},
        ).json()
        calls += 1
        assert page["total"] == page["filtered"] == 1234
        seen += [i["item_id"] for i in page["items"]]
        offset += len(page["items"])
        if offset >= page["filtered"]:
            break
    assert calls == 3 and seen == sorted(ids) and len(set(seen)) == 1234
    too_big = api(fp, token, "POST", f"/item/app/{app.app_id}/filter", json={"limit": 501})
    assert_error(too_big, 400, "invalid_value")
    default = api(fp, token, "POST", f"/item/app/{app.app_id}/filter", json={}).json()
    assert len(default["items"]) == 30
    newest_first = [i["created_on"] for i in default["items"]]
    assert newest_first == sorted(newest_first, reverse=True)


def test_last_edit_on_filter_finds_changed_items(fp):
    app = fp.add_app()
    ids = fp.add_items(app.app_id, 20)
    token = login(fp)["access_token"]
    fp.advance(3600)
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(fp.now()))
    fp.update_item(ids[3], {"title": "Changed"})
    fp.update_item(ids[7], {"progress": 99})
    body = {"filters": {"last_edit_on": {"from": since}}, "sort_by": "last_edit_on"}
    page = api(fp, token, "POST", f"/item/app/{app.app_id}/filter", json=body).json()
    assert page["total"] == 20 and page["filtered"] == 2
    assert {i["item_id"] for i in page["items"]} == {ids[3], ids[7]}
    changed = next(i for i in page["items"] if i["item_id"] == ids[3])
    assert changed["title"] == "Changed" and changed["last_event_on"] >= since
    by_id = {"filters": {"item_id": [ids[0], ids[1]]}}
    picked = api(fp, token, "POST", f"/item/app/{app.app_id}/filter", json=by_id).json()
    assert picked["filtered"] == 2


def test_external_id_lookup_and_item_writes(fp):
    app = fp.add_app()
    token = login(fp)["access_token"]
    created = api(
        fp,
        token,
        "POST",
        f"/item/app/{app.app_id}/",
        json={
            "external_id": "crm-42",
            "fields": {"title": "Hello", "amount": 12.5, "status": "Active", "progress": 10},
        },
    ).json()
    assert created["title"] == "Hello"
    found = api(fp, token, "GET", f"/item/app/{app.app_id}/external_id/crm-42").json()
    assert found["item_id"] == created["item_id"] and found["revision"] == 0
    values = {f["external_id"]: f["values"] for f in found["fields"]}
    assert values["amount"] == [{"value": "12.5000"}]
    assert values["status"][0]["value"]["text"] == "Active"
    missing = api(fp, token, "GET", f"/item/app/{app.app_id}/external_id/nope")
    assert_error(missing, 404, "not_found")
    updated = api(fp, token, "PUT", f"/item/{created['item_id']}", json={"fields": {"title": "B"}})
    assert updated.json() == {"revision": 1, "title": "B"}
    bad = api(fp, token, "PUT", f"/item/{created['item_id']}", json={"fields": {"nope": 1}})
    assert_error(bad, 400, "invalid_value")
    assert api(fp, token, "DELETE", f"/item/{created['item_id']}").status_code == 204
    assert_error(api(fp, token, "GET", f"/item/{created['item_id']}"), 410, "gone")


def test_unknown_route_and_wrong_method_are_404(fp):
    token = login(fp)["access_token"]
    body = assert_error(api(fp, token, "POST", "/comment/item/78077883/"), 404, "not_found")
    assert body["error_description"] == "No matching operation could be found. No body was given."
    assert body["request"] == {
        "url": "http://api.podio.com/comment/item/78077883/",
        "query_string": "",
        "method": "POST",
    }
    assert_error(api(fp, token, "DELETE", "/user/status"), 404, "not_found")


# ---------------------------------------------------------------------------- faults & limits


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("500", "server_error"),
        ("502", "bad_gateway"),
        ("503", "unavailable"),
        ("504", "gateway_timeout"),
    ],
)
def test_status_faults(fp, kind, error):
    token = login(fp)["access_token"]
    fp.add_fault(kind, path="/user/status")
    assert_error(api(fp, token, "GET", "/user/status"), int(kind), error)
    assert api(fp, token, "GET", "/user/status").status_code == 200


def test_drop_malformed_html_and_timeout_faults(fp):
    token = login(fp)["access_token"]
    fp.add_fault("drop", path="/user/status")
    with pytest.raises(requests.ConnectionError):
        api(fp, token, "GET", "/user/status")
    assert fp.requests_to("/user/status")[-1].status == 0
    fp.add_fault("malformed_json", path="/user/status")
    garbled = api(fp, token, "GET", "/user/status")
    assert garbled.status_code == 200
    with pytest.raises(ValueError):
        garbled.json()
    fp.add_fault("html", path="/user/status")
    page = api(fp, token, "GET", "/user/status")
    assert page.status_code == 502 and page.headers["Content-Type"].startswith("text/html")
    fp.timeout_fault_seconds = 0.5
    fp.add_fault("timeout", path="/user/status")
    with pytest.raises(requests.Timeout):
        requests.get(
            fp.url + "/user/status", headers={"Authorization": f"OAuth2 {token}"}, timeout=0.1
        )


def test_fault_matching_by_path_method_and_count(fp):
    tokens = login(fp)
    token = tokens["access_token"]
    fp.add_fault("503", method="POST", count=2)  # no path: any API path, never /oauth/
    assert api(fp, token, "GET", "/user/status").status_code == 200
    refreshed = token_call(fp, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 200
    assert api(fp, token, "POST", "/item/app/1/filter", json={}).status_code == 503
    assert api(fp, token, "POST", "/item/app/1/filter", json={}).status_code == 503
    assert api(fp, token, "POST", "/item/app/1/filter", json={}).status_code == 404
    fp.add_fault("500", path="/oauth/token")
    assert token_call(fp, grant_type="password").status_code == 500


def test_random_faults_are_seeded_and_spare_the_token_endpoint(fp):
    token = login(fp)["access_token"]
    fp.set_fault_rate(1.0, kinds=("503",))
    assert api(fp, token, "GET", "/user/status").status_code == 503
    assert token_call(fp, grant_type="password").status_code == 400  # no fault there
    fp.set_fault_rate(1.0, kinds=("500",), paths=["/org"])
    assert api(fp, token, "GET", "/user/status").status_code == 200
    assert api(fp, token, "GET", "/org/").status_code == 500
    fp.set_fault_rate(0.0)
    assert api(fp, token, "GET", "/org/").status_code == 200


def test_latency_is_added_per_request(fp):
    token = login(fp)["access_token"]
    fp.latency = 0.05
    started = time.monotonic()
    api(fp, token, "GET", "/user/status")
    assert time.monotonic() - started >= 0.05


def test_queued_rate_limit_body(fp):
    token = login(fp)["access_token"]
    fp.add_rate_limit(7, path="/user/status")
    body = assert_error(api(fp, token, "GET", "/user/status"), 420, "rate_limit")
    assert body["error_description"] == (
        "You have hit the rate limit. Please wait 7 seconds before trying again"
    )
    fp.add_rate_limit(300, path="/oauth/token")
    limited = token_call(fp, grant_type="password")
    assert limited.status_code == 420 and "300 seconds" in limited.json()["error_description"]


def test_rate_limit_headers_count_down_and_420_when_spent(fp):
    app = fp.add_app()
    token = login(fp)["access_token"]
    fp.rate_limit_general = 3
    remaining = [
        int(api(fp, token, "GET", "/user/status").headers["X-Rate-Limit-Remaining"])
        for _ in range(3)
    ]
    assert remaining == [2, 1, 0]
    over = api(fp, token, "GET", "/user/status")
    body = assert_error(over, 420, "rate_limit")
    wait = int(body["error_description"].split("wait ")[1].split(" ")[0])
    assert 0 < wait <= 3600
    # The filter endpoint draws from the separate, smaller pool.
    page = api(fp, token, "POST", f"/item/app/{app.app_id}/filter", json={})
    assert page.status_code == 200
    assert page.headers["X-Rate-Limit-Limit"] == str(fp.rate_limit_limited)
    fp.advance(wait)
    fresh = api(fp, token, "GET", "/user/status")
    assert fresh.status_code == 200 and fresh.headers["X-Rate-Limit-Remaining"] == "2"


def test_token_endpoint_has_its_own_login_limit(fp):
    fp.rate_limit_login = 2
    assert token_call(fp, grant_type="password").status_code == 400
    assert token_call(fp, grant_type="password").status_code == 400
    assert token_call(fp, grant_type="password").status_code == 420


# ---------------------------------------------------------------------------- inspection


def test_issued_secrets_contains_every_credential(fp):
    app = fp.add_app()
    code = get_code(fp)
    tokens = exchange(fp, code)
    refreshed = token_call(fp, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    app_tokens = token_call(fp, grant_type="app", app_id=app.app_id, app_token=app.app_token)
    secrets = fp.issued_secrets()
    expected = {
        code,
        fp.client_secret,
        app.app_token,
        tokens["access_token"],
        tokens["refresh_token"],
        refreshed.json()["access_token"],
        refreshed.json()["refresh_token"],
        app_tokens.json()["access_token"],
        app_tokens.json()["refresh_token"],
    }
    assert expected <= secrets and len(secrets) == len(expected)


def test_request_log_records_bodies_and_can_be_reset(fp):
    code = get_code(fp)
    exchange(fp, code)
    [token_request] = fp.requests_to("/oauth/token", method="POST")
    assert token_request.form["code"] == code and token_request.status == 200
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    exchange(fp, get_code(fp), v2=True)
    assert fp.requests_to("/oauth/token/v2")[-1].json["grant_type"] == "authorization_code"
    fp.reset_log()
    assert fp.requests == []


def test_keep_alive_reuses_one_connection(fp):
    token = login(fp)["access_token"]
    fp.reset_log()
    with requests.Session() as session:
        session.headers["Authorization"] = f"OAuth2 {token}"
        for _ in range(20):
            assert session.get(fp.url + "/user/status", timeout=5).status_code == 200
    assert len({r.client_address for r in fp.requests}) == 1


def test_stop_closes_kept_alive_connections():
    fake = FakePodio().start()
    with requests.Session() as session:
        assert session.get(fake.url + "/nothing", timeout=5).status_code == 404
        fake.stop()
        with pytest.raises(requests.ConnectionError):
            session.get(fake.url + "/nothing", timeout=5)


def test_cli_prints_the_url_and_the_api_key_but_no_token():
    """The banner names what a developer configures (the API key, app tokens), never a token
    the fake issues. (The whole output is read: a ``readline()`` on the pipe followed by
    ``communicate()`` would lose what the first read buffered.)"""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "django_podio.testing",
            "--port",
            "0",
            "--seed-demo",
            "--items",
            "3",
            "--client-secret",
            "cli-secret-value",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if "/_fake/app/APP_ID/app-token" in line:  # the banner's last line
                break
        assert lines[0].startswith("Fake Podio listening on http://127.0.0.1:")
        url = lines[0].split()[4]
        assert requests.get(url + "/nothing", timeout=5).status_code == 404
    finally:
        process.terminate()
        rest = process.communicate(timeout=10)[0]
    printed = "".join(lines) + rest
    assert "PODIO_CLIENT_SECRET=cli-secret-value" in printed
    assert "PODIO_APP_TOKEN=fpapptok" in printed
    assert not any(prefix in printed for prefix in ("fpaccess", "fprefresh", "fpcode"))
