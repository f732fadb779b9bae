"""Shared set-up for the benchmark scripts: Django from ``tests.settings`` and the fake Podio."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup_django(database_url: str | None = None) -> None:
    """Configure Django like the test suite does; ``database_url`` picks PostgreSQL."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    if database_url is not None:
        os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()


def point_at(fake) -> None:
    """Send django-podio to ``fake`` (what the pytest fixture does, for scripts)."""
    from django.conf import settings

    settings.PODIO = {
        **settings.PODIO,
        "API_URL": fake.url,
        "AUTHORIZE_URL": fake.authorize_url,
        "TOKEN_URL": fake.token_url,
    }


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
