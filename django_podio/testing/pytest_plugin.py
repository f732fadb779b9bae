"""Pytest fixtures for projects that use django-podio: a fake Podio per test.

Registered as the ``django_podio`` pytest11 entry point, so pytest imports this module at
every start of every project that installs django-podio, whether or not a test asks for the
fixture: it imports nothing but pytest at that point. The fake (its HTTP server and state) is
imported when a fixture is first set up; Django only then, and only if settings are
configured, so the plugin is harmless in projects (or runs) without Django.
tests/test_pytest_plugin.py guards both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .server import FakePodio


def _django_settings() -> Any:
    """Django's settings if Django is installed and configured; otherwise None."""
    try:
        from django.conf import settings
    except ImportError:
        return None
    if not (settings.configured or os.environ.get("DJANGO_SETTINGS_MODULE")):
        return None
    try:
        settings.INSTALLED_APPS  # noqa: B018 - forces the lazy settings to load
    except Exception:  # a broken or missing settings module: behave as if Django were absent
        return None
    return settings


def _configured_credentials(settings: Any) -> tuple[str, str] | None:
    """The host's Podio app credentials from allauth's settings, so the fake accepts them."""
    providers = getattr(settings, "SOCIALACCOUNT_PROVIDERS", None) or {}
    app = (providers.get("podio") or {}).get("APP") or {}
    client_id = app.get("client_id")
    secret = app.get("secret") or app.get("client_secret")
    if client_id and secret:
        return str(client_id), str(secret)
    return None


@pytest.fixture
def fake_podio(request: pytest.FixtureRequest) -> Iterator[FakePodio]:
    """A started FakePodio; with Django configured, ``settings.PODIO`` points at it."""
    from .server import FakePodio

    settings = _django_settings()
    credentials = _configured_credentials(settings) if settings is not None else None
    fake = FakePodio(*credentials) if credentials else FakePodio()
    fake.start()
    override = None
    try:
        if settings is not None:
            urls = {"API_URL": fake.url, "AUTHORIZE_URL": fake.authorize_url}
            urls["TOKEN_URL"] = fake.token_url
            if request.config.pluginmanager.hasplugin("django"):
                # pytest-django's ``settings`` fixture stacks override_settings itself and
                # undoes them in reverse order at teardown; going through it keeps our
                # override and any the test makes later correctly nested.
                wrapper = request.getfixturevalue("settings")
                wrapper.PODIO = {**(getattr(wrapper, "PODIO", None) or {}), **urls}
            else:
                from django.test import override_settings

                current = getattr(settings, "PODIO", None) or {}
                override = override_settings(PODIO={**current, **urls})
                override.enable()
        yield fake
    finally:
        if settings is not None:
            _forget_apps(fake)
        if override is not None:
            override.disable()
        fake.stop()


def _forget_apps(fake: FakePodio) -> None:
    """Drop the fake's apps from django-podio's definition cache: the next test's fake may
    get the same port and app ids with other fields."""
    try:
        from django_podio.api.apps import forget_app

        for app_id in list(fake.apps):
            forget_app(app_id, api_url=fake.url)
    except Exception:  # noqa: S110 - no cache configured or Django half set up: none cached
        pass


@pytest.fixture(scope="session")
def fake_podio_server() -> Iterator[FakePodio]:
    """One FakePodio for a whole session (no settings override): for suites that share data."""
    from .server import FakePodio

    with FakePodio() as fake:
        yield fake
