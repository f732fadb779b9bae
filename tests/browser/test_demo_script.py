"""``make demo`` as a newcomer meets it, in a real browser: the admin, the consent page and the
dashboard of the site that scripts/demo.py starts (runserver and the fake Podio, on free
ports, with the admin login it prints). Screenshots land in $DEMO_SCREENSHOTS (or tmp).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, Response

from .conftest import chromium, screenshot
from .demo_process import clean_environment, running_demo

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo_process(tmp_path, chromium_path):
    with running_demo(tmp_path) as process:
        yield process


def failed_responses(page: Page) -> list[str]:
    failed: list[str] = []

    def record(response: Response) -> None:
        if response.status >= 400:
            failed.append(f"{response.status} {response.url}")

    page.on("response", record)
    return failed


def paste_into_shell(command: str, demo) -> subprocess.CompletedProcess:
    """Run the line as a person pastes it at the repository's root.

    Two substitutions only: this run's Python for ``.venv/bin/python`` (CI may use another
    virtualenv) and the demo's database file, which tests keep out of the checkout.
    """
    assert command.startswith(("PODIO_FAKE_URL=", ".venv/bin/python ")), command
    line = command.replace(".venv/bin/python", shlex.quote(sys.executable), 1)
    return subprocess.run(  # noqa: S602 - the point is to run it as a shell would
        line,
        shell=True,
        cwd=ROOT,
        env={**clean_environment(), "DEMO_DATABASE": demo.database},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_admin_is_styled_and_its_user_connects_podio(demo_process, chromium_path):
    url = demo_process.url
    with chromium(chromium_path) as page:
        failed = failed_responses(page)
        page.goto(url + "/admin/")
        page.fill("#id_username", "demo-admin")
        page.fill("#id_password", demo_process.admin_password())
        page.click("input[type=submit]")
        page.wait_for_url(url + "/admin/")
        header_colour = page.evaluate(
            "getComputedStyle(document.querySelector('#header')).backgroundColor"
        )
        stylesheets = page.evaluate("document.styleSheets.length")
        admin_shot = screenshot(page, "admin")

        # The admin's user signed in with a password: the dashboard offers to connect Podio.
        page.goto(url + "/dashboard/")
        connect = page.inner_text("#podio-connect")
        screenshot(page, "dashboard-password-user")
        page.click("#podio-connect")
        page.wait_for_url(lambda u: "/oauth/authorize" in u)
        consent_title = page.title()
        banner = page.inner_text("#fake-banner")
        allow_colour = page.evaluate(
            "getComputedStyle(document.querySelector('#allow')).backgroundColor"
        )
        consent_shot = screenshot(page, "consent")
        page.click("#allow")
        page.wait_for_url(url + "/dashboard/")
        name = page.inner_text("#podio-profile-name")
        heading = page.inner_text("#items-heading")
        pager = page.inner_text("#items-page")
        dashboard_shot = screenshot(page, "dashboard")

        # The hint's command, pasted into a shell at the repository's root, fills the cache.
        command = page.inner_text("#fetch-command")
        fetched = paste_into_shell(command, demo_process)
        page.reload()
        source_after = page.inner_text("#items-source")
        hints_after = page.locator("#cache-hint").count()

        page.goto(url + "/dashboard/?page=abc")
        page_abc = page.inner_text("#items-page")
        page.goto(url + "/dashboard/?page=13")
        page_13 = page.inner_text("#items-page")

    assert failed == []  # no 404 for the admin's CSS, JS or images
    assert stylesheets >= 1 and header_colour not in ("rgba(0, 0, 0, 0)", "transparent")
    assert connect == "Connect Podio"
    assert consent_title.startswith("Podio - Authorize")
    assert "Fake Podio" in banner
    assert allow_colour not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)", "rgb(239, 239, 239)")
    assert name == "Demo User"
    assert heading.startswith("Items of Projects (app ")
    # 300 demo items, 25 a page: an unreadable page is the first, one past the end the last.
    assert (pager, page_abc, page_13) == ("Page 1 of 12", "Page 1 of 12", "Page 12 of 12")
    assert f"PODIO_FAKE_URL=http://127.0.0.1:{demo_process.port + 1} " in command
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    assert source_after == "300 items, read from the local cache (PodioItem)."
    assert hints_after == 0
    for shot in (admin_shot, consent_shot, dashboard_shot):
        assert shot.stat().st_size > 10_000
