"""The fake's other API clients: a token is bound to the client it was issued to.

The client-side flow (``response_type=token``) hands tokens to the browser; the backend binds
them to *its* client by spending the refresh token with its own credentials. That only proves
anything if the token endpoint refuses a refresh token (or code) presented by a client other
than the one it was issued to (RFC 6749 §6, §4.1.3), as these tests check over real HTTP.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from django_podio.testing import FakePodio

SPA = "http://localtest.me:8000/spa/"


@pytest.fixture
def fp():
    with FakePodio() as fake:
        fake.add_user(mail="ada@example.com", name="Ada Lovelace")
        yield fake


def implicit(fake: FakePodio, client_id: str, **params: str) -> dict[str, str]:
    """The client-side flow: what lands in the browser's URL fragment."""
    query = {"client_id": client_id, "redirect_uri": SPA, "response_type": "token", **params}
    response = requests.get(fake.authorize_url, params=query, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    assert location.query == ""  # tokens never in the query string (server logs see it)
    return {k: v[-1] for k, v in parse_qs(location.fragment).items()}


def refresh(fake: FakePodio, client: tuple[str, str], refresh_token: str) -> requests.Response:
    client_id, secret = client
    body = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": secret,
        "refresh_token": refresh_token,
    }
    return requests.post(fake.token_url, data=body, timeout=5)


def ours(fake: FakePodio) -> tuple[str, str]:
    return fake.client_id, fake.client_secret


def test_client_side_flow_fragment_has_podio_fields_and_working_tokens(fp):
    fragment = implicit(fp, fp.client_id, state="s1", scope="global:all")
    assert set(fragment) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "scope",
        "state",
    }
    assert (fragment["token_type"], fragment["expires_in"]) == ("bearer", "28800")
    assert (fragment["scope"], fragment["state"]) == ("global:all", "s1")
    status = requests.get(
        fp.url + "/user/status",
        headers={"Authorization": f"OAuth2 {fragment['access_token']}"},
        timeout=5,
    )
    assert status.status_code == 200 and status.json()["user"]["mail"] == "ada@example.com"
    # Our own client can spend the refresh token it was issued, once.
    assert refresh(fp, ours(fp), fragment["refresh_token"]).status_code == 200
    assert refresh(fp, ours(fp), fragment["refresh_token"]).json()["error"] == "invalid_grant"


def test_refresh_token_of_another_client_is_refused_and_not_spent(fp):
    other = fp.add_client(name="Someone else's app")
    fragment = implicit(fp, other[0])
    assert fp.tokens[fragment["access_token"]].client_id == other[0]

    refused = refresh(fp, ours(fp), fragment["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    # Refused, not burnt: the client it belongs to can still use it.
    mine = refresh(fp, other, fragment["refresh_token"])
    assert mine.status_code == 200
    assert fp.tokens[mine.json()["access_token"]].client_id == other[0]
    # And the other way round: our refresh token is no good to the other client.
    own = implicit(fp, fp.client_id)
    assert refresh(fp, other, own["refresh_token"]).json()["error"] == "invalid_grant"
    assert refresh(fp, ours(fp), own["refresh_token"]).status_code == 200


def test_code_of_another_client_is_refused(fp):
    other = fp.add_client()
    query = {"client_id": other[0], "redirect_uri": SPA, "response_type": "code"}
    response = requests.get(fp.authorize_url, params=query, allow_redirects=False, timeout=5)
    code = parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]
    body = {
        "grant_type": "authorization_code",
        "client_id": fp.client_id,
        "client_secret": fp.client_secret,
        "code": code,
        "redirect_uri": SPA,
    }
    refused = requests.post(fp.token_url, data=body, timeout=5)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    body.update(client_id=other[0], client_secret=other[1])
    assert requests.post(fp.token_url, data=body, timeout=5).status_code == 200


def test_other_client_needs_its_own_secret(fp):
    other = fp.add_client()
    fragment = implicit(fp, other[0])
    for client in ((other[0], fp.client_secret), (fp.client_id, other[1]), (other[0], "")):
        response = refresh(fp, client, fragment["refresh_token"])
        assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_consent_page_names_the_asking_client_and_secrets_are_scanned(fp):
    other = fp.add_client(name="Elsewhere Inc.")
    fp.authorize_mode = "consent"
    query = {"client_id": other[0], "redirect_uri": SPA, "response_type": "token"}
    page = requests.get(fp.authorize_url, params=query, timeout=5)
    assert "Authorize Elsewhere Inc." in page.text and fp.client_name not in page.text
    assert other[1] in fp.issued_secrets()
    with pytest.raises(ValueError):
        fp.add_client(client_id=fp.client_id)
    with pytest.raises(ValueError):
        fp.add_client(client_id=other[0])
