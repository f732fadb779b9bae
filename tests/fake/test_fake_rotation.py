"""The fake rotates its client secret and app tokens while running, keeping every token.

What a person does on Podio's pages (a new secret on the API key's page, a new app token on
the app's Developer page) the fake does through ``FakePodio`` methods (the ``fake_podio``
fixture) and, for ``python -m django_podio.testing`` in another process, through its control
endpoints. Plain pytest + requests, like the other tests of the fake.
"""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from django_podio.testing import FakePodio

from .test_fake_podio import api, login, token_call

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fp():
    with FakePodio() as fake:
        yield fake


def refresh(fake: FakePodio, refresh_token: str, secret: str) -> requests.Response:
    return token_call(
        fake, grant_type="refresh_token", refresh_token=refresh_token, client_secret=secret
    )


def test_a_new_client_secret_refuses_the_old_one_and_keeps_every_token(fp):
    tokens = login(fp)
    old = fp.client_secret
    new = fp.rotate_client_secret()
    assert new != old and fp.client_secret == new
    # The token already issued keeps working...
    assert api(fp, tokens["access_token"], "GET", "/user/status").status_code == 200
    # ...the old secret is refused for every grant, and spends nothing...
    refused = refresh(fp, tokens["refresh_token"], old)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    # ...and the refresh token issued before refreshes with the new secret.
    renewed = refresh(fp, tokens["refresh_token"], new)
    assert renewed.status_code == 200, renewed.text
    assert {old, new} <= fp.issued_secrets()  # leak scans still know the old secret


def test_a_chosen_client_secret_and_no_rotation_to_the_same(fp):
    assert fp.rotate_client_secret("chosen-secret-0123456789") == "chosen-secret-0123456789"
    with pytest.raises(ValueError):
        fp.rotate_client_secret("chosen-secret-0123456789")


@pytest.mark.parametrize("revoke", [False, True], ids=["tokens-kept", "tokens-revoked"])
def test_a_new_app_token_refuses_the_old_one(fp, revoke):
    app = fp.add_app(name="Projects")
    other = fp.add_app(name="Other")
    old = app.app_token
    issued = token_call(fp, grant_type="app", app_id=app.app_id, app_token=old).json()
    unrelated = token_call(fp, grant_type="app", app_id=other.app_id, app_token=other.app_token)
    new = fp.rotate_app_token(app.app_id, revoke_tokens=revoke)
    assert new != old and app.app_token == new and new.startswith("fpapptok")
    refused = token_call(fp, grant_type="app", app_id=app.app_id, app_token=old)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert token_call(fp, grant_type="app", app_id=app.app_id, app_token=new).status_code == 200
    status = api(fp, issued["access_token"], "GET", f"/app/{app.app_id}").status_code
    renewed = refresh(fp, issued["refresh_token"], fp.client_secret).status_code
    assert (status, renewed) == ((401, 400) if revoke else (200, 200))
    # Another app's tokens are never touched.
    token = unrelated.json()["access_token"]
    assert api(fp, token, "GET", f"/app/{other.app_id}").status_code == 200
    assert old in fp.issued_secrets()


def test_control_endpoints(fp):
    app = fp.add_app()
    announced = []
    fp.on_announce = announced.append
    answer = requests.post(fp.url + "/_fake/client-secret", timeout=5)
    assert answer.status_code == 200 and answer.json() == {"client_secret": fp.client_secret}
    answer = requests.post(fp.url + f"/_fake/app/{app.app_id}/app-token", timeout=5)
    assert answer.json() == {"app_id": app.app_id, "app_token": app.app_token}
    assert f"PODIO_CLIENT_SECRET={fp.client_secret}" in announced[0]
    assert f"PODIO_APP_TOKEN={app.app_token}" in announced[1]
    assert requests.post(fp.url + "/_fake/app/999/app-token", timeout=5).status_code == 404
    assert requests.get(fp.url + "/_fake/client-secret", timeout=5).status_code == 405
    assert requests.post(fp.url + "/_fake/nothing", timeout=5).status_code == 404


class Output:
    """A process's stdout read line by line in a thread (never blocks the test)."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.put(line)

    def until(self, pattern: str, timeout: float = 20) -> re.Match:
        while True:
            line = self.lines.get(timeout=timeout)
            self.seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found


def test_the_command_line_fake_rotates_while_running_and_keeps_its_tokens():
    app_id = 20001  # the demo app's id
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
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = Output(process)
        url = output.until(r"listening on (http://127\.0\.0\.1:\d+)")[1]
        old_secret = output.until(r"PODIO_CLIENT_SECRET=(\S+)")[1]
        old_app_token = output.until(rf"app {app_id} .*PODIO_APP_TOKEN=(\S+)")[1]
        output.until(r"POST .*/_fake/app/APP_ID/app-token")
        body = {"client_id": "test-client-id", "client_secret": old_secret}
        grant = {**body, "grant_type": "app", "app_id": app_id, "app_token": old_app_token}
        first = requests.post(url + "/oauth/token", data=grant, timeout=5).json()

        secret = requests.post(url + "/_fake/client-secret", timeout=5).json()["client_secret"]
        assert output.until(r"PODIO_CLIENT_SECRET=(\S+)")[1] == secret != old_secret
        new_token = requests.post(url + f"/_fake/app/{app_id}/app-token", timeout=5).json()
        assert output.until(r"PODIO_APP_TOKEN=(\S+)")[1] == new_token["app_token"]

        # The token issued before both rotations still works and still refreshes.
        headers = {"Authorization": f"OAuth2 {first['access_token']}"}
        assert requests.get(url + f"/app/{app_id}", headers=headers, timeout=5).ok
        again = {**body, "grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        refused = requests.post(url + "/oauth/token", data=again, timeout=5)
        assert refused.status_code == 401  # the old secret
        renewed = requests.post(
            url + "/oauth/token", data={**again, "client_secret": secret}, timeout=5
        )
        assert renewed.status_code == 200, renewed.text
        grant.update(client_secret=secret)
        assert requests.post(url + "/oauth/token", data=grant, timeout=5).status_code == 400
        grant.update(app_token=new_token["app_token"])
        assert requests.post(url + "/oauth/token", data=grant, timeout=5).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
    # Only the credentials a person must configure are printed, never a token it issued.
    printed = "".join(output.seen)
    assert first["access_token"] not in printed and "fprefresh" not in printed
    assert renewed.json()["access_token"] not in printed
