"""Headless Chromium for the browser tests, found on PATH as a person's shell would find it.

In CI (``CI`` set) a missing browser is a failure: a browser test that silently skips there
proves nothing. On a laptop without Chromium the tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

# Debian and Arch name it chromium, Ubuntu's snap chromium-browser; Chrome works as well.
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        names = ", ".join(BROWSER_NAMES)
        if os.environ.get("CI"):
            pytest.fail(f"no chromium on PATH ({names}) and CI is set: the browser tests must run")
        pytest.skip(f"no chromium on PATH ({names}); install it, e.g. apt-get install chromium")
    return path


@contextmanager
def chromium(path: str) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.set_default_timeout(20_000)
            yield page
        finally:
            browser.close()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot where a person can look at it ($DEMO_SCREENSHOTS or tmp)."""
    folder = Path(os.environ.get("DEMO_SCREENSHOTS") or tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"demo-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


EXAMPLE_PROJECT = Path(__file__).resolve().parents[2] / "example_project"


def serve_example_site(settings, fake) -> None:
    """Point Django at the example site (``demo.urls``, its templates) and at ``fake``.

    As in example_project/demo/settings.py; the demo's templates dir stands in for the
    ``demo`` app (DIRS come before APP_DIRS, so its account/ overrides apply too).
    """
    if str(EXAMPLE_PROJECT) not in sys.path:
        sys.path.insert(0, str(EXAMPLE_PROJECT))
    settings.PODIO = {
        "API_URL": fake.url,
        "AUTHORIZE_URL": fake.authorize_url,
        "TOKEN_URL": fake.token_url,
    }
    settings.ROOT_URLCONF = "demo.urls"
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [str(EXAMPLE_PROJECT / "demo" / "templates")]}
    ]
    settings.LOGIN_URL = "/"
    settings.LOGIN_REDIRECT_URL = "/dashboard/"
