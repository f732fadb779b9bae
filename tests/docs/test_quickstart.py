"""The quickstart, followed as a newcomer would, in a fresh ``django-admin startproject``.

Every step is a block read out of docs/quickstart.rst; the browser is headless Chromium
clicking what the page shows (allauth's login page, "Podio", "Continue"); the host project
runs in its own processes (``manage.py migrate``/``runserver``/``shell``), as the reader's
would, so nothing of this test suite's settings helps it along.
"""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from tests.browser.conftest import CHROMIUM_ARGS, find_chromium

from .hostproject import free_port, host_project
from .snippets import snippet


def find_chromium_or_skip() -> str:
    """The browser suite's rule: chromium on PATH; missing is a skip locally, a failure in CI."""
    path = find_chromium()
    if path is None:
        message = "no chromium on PATH (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message + " and CI is set: the browser test must run")
        pytest.skip(message)
    return path


def log_in_with_podio(browser, site: str, *, start: str) -> str:
    """Click through the login as a person would; return the text of the page landed on."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(site + start)
        page.wait_for_url(lambda url: "/accounts/login/" in url)
        page.get_by_role("link", name="Podio").click()
        page.get_by_role("button", name="Continue").click()
        try:
            page.wait_for_url(site + "/", timeout=15_000)
        except PlaywrightTimeout:
            body = page.inner_text("body")[:2000]
            raise AssertionError(f"the login ended on {page.url}, not {site}/:\n{body}")
        return page.inner_text("body").strip()
    finally:
        context.close()


def test_the_fake_prints_what_the_docs_say_it_accepts(tmp_path):
    with host_project(tmp_path) as project:
        banner = project.banner
    # The three PODIO URLs, the API key the quickstart exports, the demo user, an app token.
    for expected in (
        f'"API_URL": "{project.fake_url}"',
        f'"AUTHORIZE_URL": "{project.fake_url}/oauth/authorize"',
        f'"TOKEN_URL": "{project.fake_url}/oauth/token"',
        f"PODIO_CLIENT_ID={project.env['PODIO_CLIENT_ID']}",
        f"PODIO_CLIENT_SECRET={project.env['PODIO_CLIENT_SECRET']}",
        "demo@example.com",
        "PODIO_APP_TOKEN=",
    ):
        assert expected in banner, banner


@pytest.mark.browser
def test_quickstart_from_startproject_to_a_podio_call(tmp_path):
    chromium = find_chromium_or_skip()
    with host_project(tmp_path) as project:
        # The security page's operator log: authentication events to podio-auth.log.
        project.append_settings(snippet("security-events-logging"))
        check = project.manage("check")
        assert "System check identified no issues" in check, check

        port = free_port()
        for line in snippet("quickstart-run").splitlines():
            command = line.split()
            assert command[:2] == ["python", "manage.py"], line
            if command[2] == "runserver":
                # The docs' default address is 127.0.0.1:8000; a free port keeps runs apart.
                project.background(
                    f"{line} 127.0.0.1:{port} --noreload", ready="Quit the server with"
                )
            else:
                project.manage(*command[2:])
        project.wait_for_port(port)
        site = f"http://127.0.0.1:{port}"

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                # First visit: allauth's login page itself; sign-up (a confirmation mail is
                # sent) and then LOGIN_REDIRECT_URL.
                first = log_in_with_podio(browser, site, start="/accounts/login/")
                # Later, in another browser: a page that needs login, which it returns to.
                again = log_in_with_podio(browser, site, start="/")
            finally:
                browser.close()
        assert first == again == "Signed in to Podio as Demo User."

        shell = project.manage("shell", stdin=snippet("quickstart-shell"))
        assert shell.strip().splitlines()[-1] == "Demo User"

    events = (project.root / "podio-auth.log").read_text()
    assert events.count("podio.login ") == 2, events  # signed up, then signed in again
    secrets = re.findall(r"(?:PODIO_CLIENT_SECRET|PODIO_APP_TOKEN)=(\S+)", project.banner)
    assert len(secrets) == 2 and not any(secret in events for secret in secrets)
    assert "code=" not in events
