"""Redaction is on by default: a host that never heard of the filter logs no secret.

``runserver``'s access log (``django.server``) writes every request line, the OAuth callback's
``?code=`` and hook URLs with their secret included; ``django.request`` writes the path of every
4xx/5xx. ``AppConfig.ready()`` puts the redacting filter on both loggers, leaving the host's
handlers and levels alone.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.apps import apps

from django_podio.hooks.secret import digest, new_secret
from django_podio.models import PodioHook
from django_podio.redaction import RedactingFilter

from .. import databases
from ..scan import find_leaks

ROOT = Path(__file__).resolve().parents[2]
LOGGERS = ("django.server", "django.request")


def filters_on(name: str) -> list[logging.Filter]:
    return [f for f in logging.getLogger(name).filters if isinstance(f, RedactingFilter)]


def test_ready_puts_one_filter_on_django_s_loggers_and_changes_nothing_else():
    state = {
        name: (list(logging.getLogger(name).handlers), logging.getLogger(name).level)
        for name in LOGGERS
    }
    config = apps.get_app_config("django_podio")
    config.ready()
    config.ready()  # ready() may run more than once (tests, reloaders): still one filter
    for name in LOGGERS:
        assert len(filters_on(name)) == 1, name
        logger = logging.getLogger(name)
        assert (list(logger.handlers), logger.level) == state[name], name


def test_a_django_request_record_is_masked_before_any_handler_sees_it(caplog):
    secret = new_secret()
    caplog.set_level(logging.WARNING, logger="django.request")
    logging.getLogger("django.request").warning(
        "Not Found: %s", f"/podio/hooks/{secret}/?code=abc&x=1"
    )
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert secret not in record.getMessage()
    assert "code=abc" not in record.getMessage()  # short codes too: masked by name
    assert "/podio/hooks/" in record.getMessage() and "x=1" in record.getMessage()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(fake) -> dict[str, str]:
    """The suite's test database and fake, for a child process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(databases.child_env(fake), PYTHONUNBUFFERED="1")
    return env


@pytest.fixture
def runserver(transactional_db, fake, tmp_path):
    """``manage.py runserver`` as a host runs it (no LOGGING of its own), output to a file."""
    port = free_port()
    log = tmp_path / "runserver.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=child_env(fake),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"runserver did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def log_in_through(site: str) -> requests.Response:
    """The browser's round trip: allauth's login form, Podio's authorize, our callback."""
    browser = requests.Session()
    page = browser.get(f"{site}/accounts/podio/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    started = browser.post(
        f"{site}/accounts/podio/login/",
        data={"csrfmiddlewaretoken": token},
        headers={"Referer": f"{site}/accounts/podio/login/"},
        allow_redirects=False,
        timeout=30,
    )
    assert started.status_code == 302, started.text[:500]
    at_podio = browser.get(started.headers["Location"], allow_redirects=False, timeout=30)
    callback = at_podio.headers["Location"]
    assert "code=" in callback
    return browser.get(callback, allow_redirects=False, timeout=30)


def test_runserver_logs_no_code_and_no_hook_secret(runserver, fake):
    site, log = runserver
    assert log_in_through(site).status_code == 302  # signed in: the code was used

    secret = new_secret()
    PodioHook.objects.create(
        hook_id=77,
        app_id=1,
        event_type="item.update",
        secret_hash=digest(secret),
        status=PodioHook.Status.ACTIVE,
    )
    delivery = {"type": "item.update", "hook_id": "77", "item_id": "5", "item_revision_id": "9"}
    assert requests.post(f"{site}/podio/hooks/{secret}/", data=delivery, timeout=30).ok
    unknown = new_secret()
    assert (
        requests.post(f"{site}/podio/hooks/{unknown}/", data=delivery, timeout=30).status_code
        == 404
    )
    assert requests.get(f"{site}/no/such/page/?code=abc", timeout=30).status_code == 404

    time.sleep(0.5)  # the last access-log line is written after the response
    output = log.read_text()
    assert "/accounts/podio/login/callback/?code=" in output, output  # the line is there
    assert output.count("/podio/hooks/") >= 2, output
    secrets = fake.issued_secrets() | {secret, unknown}
    assert fake.codes, "the fake issued a code"
    assert find_leaks(secrets, runserver_log=output) == {}, output
    assert "code=abc" not in output


# What the filter masks ----------------------------------------------------------------------


def test_redact_masks_secret_shapes_and_credential_parameters():
    import secrets as random_secrets

    from django_podio.redaction import redact

    hook = random_secrets.token_urlsafe(24)
    token = random_secrets.token_hex(20)
    text = redact(
        f"GET /accounts/podio/login/callback/?code=abc&state=s1 /podio/hooks/{hook}/ "
        f"Authorization: OAuth2 short token={token}&refresh_token=r1#access_token=a1"
    )
    for secret in (hook, token, "code=abc", "OAuth2 short", "refresh_token=r1", "access_token=a1"):
        assert secret not in text, (secret, text)
    assert "state=s1" in text and "/podio/hooks/" in text


def test_redact_keeps_long_names_readable():
    from django_podio.redaction import redact

    line = 'File "allauth/socialaccount/providers/base/provider.py", in sociallogin_from_response'
    assert redact(line) == line
    assert (
        redact("csrftoken=abc zipcode=1234 error_code=x")
        == "csrftoken=abc zipcode=1234 error_code=x"
    )


def test_frames_cut_keeps_the_error_and_drops_the_frames_below(caplog):
    from django_podio.hidden import Hidden, frames_cut
    from django_podio.redaction import get_logger

    from ..reports import frame_variables

    def deep(value):
        body = {"client_secret": value}  # noqa: F841 - a plain secret in a frame's locals
        raise RuntimeError(f"failed with {value}")

    # Only ever inside the wrapper in this frame: the test's own frame is in the traceback.
    hidden = Hidden("s3cr3t-" + "x1" * 16, "client secret")
    with pytest.raises(RuntimeError) as raised:
        with frames_cut(get_logger("django_podio.tests"), "Calling deep"):
            deep(hidden.reveal())
    assert raised.type is RuntimeError
    recorded = frame_variables(raised.value)
    assert hidden.reveal() not in recorded and "deep:" not in recorded
    assert "failed with [redacted]" in recorded  # the message is kept, masked
    assert repr(hidden) == "<client secret: [redacted]>"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Calling deep failed unexpectedly" in logged and "in deep" in logged
    assert hidden.reveal() not in logged
