"""Environment for child processes that must use the parent's test database."""

from __future__ import annotations

from django.db import connection as db


def child_database_env() -> dict[str, str]:
    """``tests.settings`` pointed at the test database this process is using (as set up by
    pytest-django), for a child process started with ``DJANGO_SETTINGS_MODULE`` from it."""
    settings_dict = db.settings_dict
    if db.vendor == "sqlite":
        return {
            "SQLITE_PATH": str(settings_dict["NAME"]),
            "DATABASE_URL": "",
            "DJANGO_SETTINGS_MODULE": "tests.settings",
        }
    url = (
        f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT']}/"
        f"{settings_dict['NAME']}"
    )
    return {"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "tests.settings"}
