"""Code run in child processes by the concurrency tests (real processes, real PostgreSQL).

Each child configures Django from ``tests.settings`` with the parent's test database and fake
Podio (``DATABASE_URL``/``PODIO_FAKE_URL`` in its environment), waits at a barrier so all start
together, then does what a web worker or cron host would.
"""

from __future__ import annotations

import os


def _setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()


def get_client_and_call(env: dict[str, str], user_id: int, barrier, results) -> None:
    """A web worker: get a client for the user (token expired) and call Podio once."""
    _setup(env)
    from django.contrib.auth import get_user_model

    from django_podio import get_client

    user = get_user_model().objects.get(pk=user_id)
    barrier.wait(timeout=30)
    try:
        client = get_client(user)
        status = client.get("/user/status")
        results.put(("ok", status["user"]["user_id"], client._auth.token))
    except Exception as error:  # reported to the parent, which fails the test
        results.put(("error", type(error).__name__, str(error)))
