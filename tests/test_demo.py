"""The demo site without a browser: its pages, its paging, its admin user and ``make demo``.

The site's views and templates run in the test process against the fake Podio; ``make demo``
itself (scripts/demo.py) runs as a newcomer runs it, in a subprocess on free ports.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from django_podio import get_client, items
from django_podio.models import PodioConnection

from .browser.demo_process import (
    DEMO_SCRIPT,
    DemoProcess,
    clean_environment,
    free_pair,
    running_demo,
)
from .conftest import authorize, callback_path, login_with_podio

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_PROJECT = ROOT / "example_project"
# The one format of every date the dashboard shows (example_project/demo/views.py).
DATE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$")
PYTHON_ERROR_TEXT = ("invalid literal", "Traceback", "ValueError", "TypeError", "Page 13 of")
User = get_user_model()


@pytest.fixture
def demo(settings, fake, monkeypatch):
    """The example site's urls and templates in the test settings, with the demo workspace."""
    monkeypatch.syspath_prepend(str(EXAMPLE_PROJECT))
    sys.modules.pop("demo.urls", None)
    settings.ROOT_URLCONF = "demo.urls"
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [str(EXAMPLE_PROJECT / "demo" / "templates")]}
    ]
    settings.LOGIN_URL = "/"
    settings.LOGIN_REDIRECT_URL = "/dashboard/"
    settings.TIME_ZONE = "UTC"  # as example_project/demo/settings.py
    return fake.seed_demo(items=30)  # two pages of 25


def cache_items(demo) -> None:
    user = PodioConnection.objects.get().user
    report = items.fetch_items(get_client(user), demo["app_id"], store=True)
    assert not report.error


def text_of(html: str, element_id: str) -> str:
    """The text of the element with this id (tags stripped, whitespace collapsed)."""
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:p|span|dd|h2|code)>', html, re.S)
    assert match, f"no element #{element_id}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


# --------------------------------------------------------------------------- the dashboard


@pytest.mark.django_db
def test_dashboard_lists_items_live_then_from_the_cache(client, fake, demo):
    login_with_podio(client)
    live = client.get("/dashboard/").content.decode()
    assert "30 items, read from Podio, live" in live
    assert live.count("<tr><td>") == 25
    assert 'id="cache-hint"' in live and "podio_fetch_items" in live

    cache_items(demo)
    fake.reset_log()
    cached = client.get("/dashboard/?page=2").content.decode()
    assert "30 items, read from the local cache" in cached
    assert cached.count("<tr><td>") == 5
    assert fake.requests_to("/item/") == []  # served from the cache, not from Podio
    # The hint to cache them is gone once they are cached.
    assert 'id="cache-hint"' not in cached and "podio_fetch_items" not in cached


@pytest.mark.django_db
def test_dashboard_names_the_app(client, demo):
    login_with_podio(client)
    html = client.get("/dashboard/").content.decode()
    assert text_of(html, "items-heading") == f"Items of Projects (app {demo['app_id']})"


@pytest.mark.django_db
@pytest.mark.parametrize("cached", [False, True], ids=["live", "cached"])
@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("page=abc", 1),
        ("page=", 1),
        ("page=0", 1),
        ("page=-3", 1),
        ("page=1.5", 1),
        ("page=2", 2),
        ("page=3", 2),
        ("page=13", 2),
        ("page=99999999999999999999999999", 2),
    ],
)
def test_bad_page_numbers_show_the_nearest_page(client, demo, cached, query, shown):
    login_with_podio(client)
    if cached:
        cache_items(demo)
    response = client.get(f"/dashboard/?{query}")
    html = response.content.decode()
    assert response.status_code == 200
    assert text_of(html, "items-page") == f"Page {shown} of 2"
    assert html.count("<tr><td>") == (25 if shown == 1 else 5)
    assert 'id="items-error"' not in html
    for text in PYTHON_ERROR_TEXT:
        assert text not in html


@pytest.mark.django_db
@pytest.mark.parametrize("app", ["abc", "0", "-1", "1e3", "١٢"])
def test_a_malformed_app_id_is_a_404_not_an_error_text(client, demo, app):
    login_with_podio(client)
    response = client.get(f"/dashboard/?app={app}")
    html = response.content.decode()
    assert response.status_code == 404
    assert "There is no app with the id" in text_of(html, "not-found")
    assert 'href="/dashboard/" id="back-dashboard"' in html
    assert "invalid literal" not in html


@pytest.mark.django_db
def test_an_app_chosen_by_id_is_named_and_the_pager_keeps_it(client, demo):
    login_with_podio(client)
    app_id = demo["app_id"]
    html = client.get(f"/dashboard/?app={app_id}").content.decode()
    assert text_of(html, "items-heading") == f"Items of Projects (app {app_id})"
    assert f'href="?app={app_id}&amp;page=2" id="items-next"' in html


@pytest.mark.django_db
def test_an_app_podio_does_not_know_is_a_message_not_an_error_page(client, demo):
    login_with_podio(client)
    response = client.get("/dashboard/?app=999999")
    assert response.status_code == 200
    error = text_of(response.content.decode(), "items-error")
    assert error.startswith("Podio could not list the items:")


@pytest.mark.django_db
@pytest.mark.parametrize("cached", [False, True], ids=["live", "cached"])
def test_every_date_on_the_dashboard_has_one_format(client, demo, cached):
    login_with_podio(client)
    if cached:
        cache_items(demo)
    response = client.post(reverse("refresh_now"))
    assert response.status_code == 302
    html = client.get("/dashboard/").content.decode()

    dates = [text_of(html, "connection-expires-at"), text_of(html, "connection-last-refreshed")]
    dates += re.findall(r"<tr><td>.*?</td><td>.*?</td><td>.*?</td><td>(.*?)</td></tr>", html)
    assert len(dates) == 2 + 25
    assert [d for d in dates if not DATE.match(d)] == []
    # Nothing in Django's default format (e.g. "Nov. 30, 2026, 7:01 p.m.") nor Podio's own.
    assert not re.search(r"\b(a|p)\.m\.|\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", html)


# --------------------------------------------------------------------- signing in another way


@pytest.mark.django_db
def test_a_password_user_can_connect_podio_from_the_dashboard(client, fake, demo):
    user = User.objects.create_user("pat", "pat@example.com", "a-long-demo-password")
    client.force_login(user)
    html = client.get("/dashboard/").content.decode()
    assert "Connect Podio" in html
    action = re.search(
        r'action="([^"]+)"[^>]*>\s*<input[^>]*>\s*<button type="submit" id="podio-connect"', html
    )
    assert action and "process=connect" in action.group(1)
    assert 'id="items"' not in html  # no items section before there is a connection

    # The button's POST, Podio's consent (auto-allowed here), the callback.
    start = client.post(action.group(1).replace("&amp;", "&"))
    assert start.status_code == 302
    done = client.get(callback_path(authorize(start["Location"])))
    assert done.status_code == 302 and done["Location"] == "/dashboard/"

    connection = PodioConnection.objects.get()
    assert connection.user == user and connection.is_active
    assert SocialAccount.objects.get(provider="podio").user == user
    assert User.objects.count() == 1  # linked to pat, not a second user
    after = client.get("/dashboard/").content.decode()
    assert "Connect Podio" not in after
    assert "30 items, read from Podio, live" in after


@pytest.mark.django_db
def test_the_home_page_offers_a_password_sign_in(client, demo):
    html = client.get("/").content.decode()
    assert 'id="podio-login"' in html
    assert f'href="{reverse("account_login")}" id="password-login"' in html


# ------------------------------------------------------------------------ failed logins


@pytest.mark.django_db
def test_a_failed_login_page_has_a_way_back_and_a_way_to_try_again(client, fake, demo):
    fake.add_fault("500", path="/oauth/token", count=10)
    response = login_with_podio(client)
    html = response.content.decode()
    assert "Log in with Podio failed" in html
    assert 'href="/" id="back-home"' in html
    assert f'action="{reverse("podio_login")}"' in html and 'id="try-again"' in html
    assert "Traceback" not in html and "ServerError" not in html
    assert PodioConnection.objects.count() == 0


@pytest.mark.django_db
def test_the_cancelled_login_page_has_a_way_back(client, fake, demo):
    fake.authorize_mode = "deny"
    response = login_with_podio(client)
    assert response.status_code == 302
    html = client.get(response["Location"]).content.decode()
    assert "Login Cancelled" in html
    assert 'href="/" id="back-home"' in html and 'id="try-again"' in html


# ------------------------------------------------------------------------- the admin user


def demo_admin():
    """The example site's ``demo_admin`` command (its app is not in the test settings)."""
    from demo.management.commands.demo_admin import Command

    return Command()


@pytest.mark.django_db
def test_demo_admin_gets_the_password_it_is_given_each_run(monkeypatch, demo):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "first-password-123")
    call_command(demo_admin())
    admin = User.objects.get(username="demo-admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password("first-password-123")

    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "second-password-456")
    call_command(demo_admin())
    admin.refresh_from_db()
    assert User.objects.filter(username="demo-admin").count() == 1
    assert admin.check_password("second-password-456")
    assert not admin.check_password("first-password-123")


@pytest.mark.django_db
@pytest.mark.parametrize("password", ["", "short"])
def test_demo_admin_refuses_a_missing_or_short_password(monkeypatch, demo, password):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", password)
    with pytest.raises(CommandError, match="DEMO_ADMIN_PASSWORD"):
        call_command(demo_admin())
    assert not User.objects.filter(username="demo-admin").exists()


# ----------------------------------------------------------------------------- make demo


def run_demo(*args: str, env: dict[str, str] | None = None, timeout: float = 60):
    return subprocess.run(
        [sys.executable, str(DEMO_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("which", ["site", "fake"])
def test_a_taken_port_stops_the_demo_first_with_a_clear_message(tmp_path, which):
    port = free_pair()
    taken = port if which == "site" else port + 1
    with closing(socket.socket()) as holder:
        holder.bind(("127.0.0.1", taken))
        holder.listen()
        result = run_demo(
            "--port", str(port), env={"DEMO_DATABASE": str(tmp_path / "demo.sqlite3")}
        )
    assert result.returncode == 1
    what = "the demo site" if which == "site" else "the fake Podio"
    assert f"127.0.0.1:{taken} ({what}) is already in use" in result.stderr
    assert "make demo PORT=" in result.stderr
    # Before anything else: nothing migrated, nothing started, no "Open http://…" promise.
    assert result.stdout == ""
    assert not (tmp_path / "demo.sqlite3").exists()


def test_check_ports_only_checks(tmp_path):
    port = free_pair()
    result = run_demo(
        "--check-ports", "--port", str(port), env={"DEMO_DATABASE": str(tmp_path / "db")}
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert not (tmp_path / "db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "8000", "--fake-port", "8000"], "cannot share port 8000"),
        (["--port", "abc"], "not a port number"),
        (["--port", "70000"], "not a port number"),
    ],
)
def test_bad_ports_are_refused_before_anything_starts(args, message):
    result = run_demo(*args)
    assert result.returncode == 2 and message in result.stderr
    assert result.stdout == ""


def test_make_demo_passes_port_and_fake_port_to_the_script():
    recipe = subprocess.run(
        ["make", "-n", "-C", str(ROOT), "demo", "PORT=8765", "FAKE_PORT=8770"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # The ports first, with the system Python, then .venv, then the demo.
    check = recipe.index("scripts/demo.py --check-ports --port 8765 --fake-port 8770")
    venv = recipe.index("venv")
    run = recipe.index("/bin/python scripts/demo.py --port 8765 --fake-port 8770")
    assert check < venv < run
    default = subprocess.run(
        ["make", "-n", "-C", str(ROOT), "demo", "PORT=", "FAKE_PORT="],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.search(r"scripts/demo\.py\s*$", default, re.M)


@pytest.fixture
def demo_process(tmp_path):
    with running_demo(tmp_path) as process:
        yield process


def test_make_demo_serves_a_styled_admin_with_the_login_it_prints(demo_process):
    output = demo_process.output()
    # The addresses are promised only once the site answers, after runserver's own banner.
    # Django 6.1 says "Starting WSGI development server".
    banner = re.search(r"Starting (WSGI )?development server", output)
    assert banner and banner.start() < output.index("[demo] ready:")
    assert f"site        {demo_process.url}/" in output
    assert f"fake Podio  http://127.0.0.1:{demo_process.port + 1}" in output

    css = requests.get(f"{demo_process.url}/static/admin/css/base.css", timeout=10)
    assert css.status_code == 200 and "text/css" in css.headers["Content-Type"]

    with requests.Session() as browser:
        login_url = f"{demo_process.url}/admin/login/?next=/admin/"
        form = browser.get(login_url, timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        admin = browser.post(
            login_url,
            data={
                "csrfmiddlewaretoken": token,
                "username": "demo-admin",
                "password": demo_process.admin_password(),
                "next": "/admin/",
            },
            headers={"Referer": login_url},
            timeout=10,
        )
    assert admin.status_code == 200 and admin.url == f"{demo_process.url}/admin/"
    assert "Site administration" in admin.text
    assert "Podio connections" in admin.text

    assert demo_process.stop() == 0
    assert "fake Podio stopped" in demo_process.output()
    for port in (demo_process.port, demo_process.port + 1):
        with closing(socket.socket()) as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"


# ------------------------------------------------------------------- the browser tests' rule

# A browser test without the database: a pytest in a subprocess must not create (and so drop)
# the test database this run is using on PostgreSQL.
BROWSER_TEST = "tests/browser/test_demo_script.py"


@pytest.mark.parametrize("ci", ["1", ""], ids=["CI", "laptop"])
def test_browser_tests_fail_in_ci_and_skip_locally_without_chromium(tmp_path, ci):
    """Chromium is looked up on PATH; a PATH without it fails under CI and skips elsewhere,
    and the summary names the skipped test and why without being asked (no ``-rs``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_TEST_NAME")}
    env.update(PATH=str(tmp_path), CI=ci)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", BROWSER_TEST, "-p", "no:cacheprovider", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    output = result.stdout + result.stderr
    if ci:
        assert result.returncode == 1, output
        assert "1 error" in output and "CI is set" in output
    else:
        assert result.returncode == 0, output
        assert "1 skipped" in output
        summary = output[output.index("1 browser test skipped") :]
        assert f"SKIPPED {BROWSER_TEST}::" in summary and "no chromium on PATH" in summary


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("api_url", "prefix"),
    [
        ("http://127.0.0.1:8001", ""),  # make demo's default ports: nothing to add
        ("http://127.0.0.1:8766", "PODIO_FAKE_URL=http://127.0.0.1:8766 "),
        ("https://api.podio.com", ""),  # the real Podio
    ],
)
def test_the_cache_hint_command_names_the_fake_only_when_needed(
    rf, settings, demo, api_url, prefix
):
    from demo.views import fetch_command

    settings.PODIO = {**settings.PODIO, "API_URL": api_url}
    request = rf.get("/dashboard/")
    request.user = User.objects.create_user("o'brien x")
    assert fetch_command(request, 20001) == (
        f"{prefix}.venv/bin/python example_project/manage.py podio_fetch_items 20001 "
        "--user 'o'\"'\"'brien x' --store"
    )


@pytest.mark.django_db
def test_dead_tokens_show_as_such_with_a_reconnect_button(client, fake, demo):
    """As after a restart of the demo's fake Podio: the stored tokens mean nothing there."""
    login_with_podio(client)
    fake.expire_access_tokens()
    fake.revoke_refresh_tokens()
    html = client.get("/dashboard/").content.decode()
    assert "Podio no longer accepts this connection" in text_of(html, "items-error")
    # The card below the items call shows the state that call found, not the one before it.
    assert text_of(html, "connection-status") == "reauth_required"
    assert "Reconnect Podio" in html and 'id="refresh-now"' not in html
    assert "needs its user" not in html

    action = re.search(
        r'action="([^"]+)"[^>]*>\s*<input[^>]*>\s*<button type="submit" id="podio-connect"', html
    )
    start = client.post(action.group(1).replace("&amp;", "&"))
    done = client.get(callback_path(authorize(start["Location"])))
    assert done["Location"] == "/dashboard/"
    assert PodioConnection.objects.get().status == "active"
    again = client.get("/dashboard/").content.decode()
    assert "30 items, read from Podio, live" in again and "Reconnect Podio" not in again


# ------------------------------------------------------------------ make demo, restarted


def _csrf(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def _log_in(site: requests.Session, url: str) -> str:
    """Click "Log in with Podio", allow at the fake's consent page; return the dashboard."""
    home = site.get(f"{url}/", timeout=10).text
    action = re.search(r'<form[^>]*action="([^"]*podio/login[^"]*)"', home).group(1)
    start = site.post(
        url + action.replace("&amp;", "&"),
        data={"csrfmiddlewaretoken": _csrf(home)},
        headers={"Referer": f"{url}/"},
        allow_redirects=False,
        timeout=10,
    )
    consent = requests.get(start.headers["Location"], timeout=10)
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', consent.text))
    target = re.search(r'<form[^>]*action="([^"]+)"', consent.text).group(1)
    fake = re.match(r"https?://[^/]+", start.headers["Location"]).group(0)
    allowed = requests.post(
        fake + target if target.startswith("/") else target,
        data={**form, "decision": "allow"},
        allow_redirects=False,
        timeout=10,
    )
    return site.get(allowed.headers["Location"], timeout=30).text


def _edit_newest_item(site: requests.Session, url: str, dashboard: str) -> str:
    app_id = re.search(r'name="app_id" value="(\d+)"', dashboard).group(1)
    page = site.post(
        f"{url}/dashboard/edit-in-podio/",
        data={"csrfmiddlewaretoken": _csrf(dashboard), "app_id": app_id},
        headers={"Referer": f"{url}/dashboard/"},
        timeout=60,
    )
    assert page.status_code == 200
    return page.text


def test_a_restarted_demo_re_syncs_with_its_fresh_fake(tmp_path):
    """Issue 18, point 6: ``make demo`` again on the same database with a fresh fake Podio,
    and "Edit the newest item in Podio" still brings the edit into the cache by webhook."""
    first = DemoProcess(tmp_path)
    try:
        first.wait_ready()
        with requests.Session() as site:
            dashboard = _log_in(site, first.url)
            command = re.search(r'id="fetch-command">([^<]+)<', dashboard).group(1)
            argv = command.replace("&#x27;", "'").split("manage.py", 1)[1].split()
            cached = subprocess.run(
                [sys.executable, "manage.py", *argv],
                cwd=EXAMPLE_PROJECT,
                env={
                    **clean_environment(),
                    "DEMO_DATABASE": first.database,
                    "DJANGO_SETTINGS_MODULE": "demo.settings",
                    "PODIO_FAKE_URL": f"http://127.0.0.1:{first.port + 1}",
                },
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert cached.returncode == 0, cached.stderr
            dashboard = site.get(f"{first.url}/dashboard/", timeout=30).text
            assert "its webhook brought revision 1" in _edit_newest_item(site, first.url, dashboard)
    finally:
        assert first.stop() == 0

    second = DemoProcess(tmp_path)  # the same database file, a fresh fake
    try:
        second.wait_ready()
        with requests.Session() as site:
            dashboard = _log_in(site, second.url)
            assert "read from the local cache" in dashboard
            edited = _edit_newest_item(site, second.url, dashboard)
            assert "its webhook brought revision 1" in edited, edited[:3000]
        resynced = "app 20001: re-synced with this fake Podio (1 hooks, items cached again)"
        assert resynced in second.output()
    finally:
        assert second.stop() == 0
