"""docs/tasks.rst's Celery recipe, followed as written in the quickstart's project, against
the Redis broker it configures and a real ``celery -A mysite worker``.

Issue 18, point 2: the recipe used to leave the broker unnamed and the app optional, so
``podio_refresh --enqueue`` printed "2 refreshes enqueued" and exited 0 while the messages
went to Celery's fallback broker where no worker read them. Now each step of the page is run
from its blocks; before the page's last block is in place, enqueueing fails at once.

The one line the test adds to the page's settings is a queue of its own
(``CELERY_TASK_DEFAULT_QUEUE``): the suite shares this Redis with other runs, whose workers
must not take this run's messages (as the ports of the quickstart's fake are the test's own).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid

import pytest
from django.db import connection as db

from django_podio import tasks

from .hostproject import host_project
from .snippets import snippet

pytestmark = pytest.mark.skipif(
    not tasks.available(), reason="needs Django's Tasks API (django-podio[tasks] on 5.2)"
)

DUE = """
from django.utils import timezone
from django_podio.models import PodioConnection
PodioConnection.objects.update(expires_at=timezone.now())
"""
REFRESHED = """
from django_podio.models import PodioConnection
print("refreshed:", PodioConnection.objects.filter(last_refreshed_at__isnull=False).count())
"""


@pytest.fixture(autouse=True)
def _redis_and_once():
    if db.vendor != "sqlite":
        pytest.skip("the recipe's project has its own SQLite database: run once, on SQLite")
    import redis

    try:  # fail in seconds, not after a worker retried its broker for a minute
        redis.Redis(host="127.0.0.1", port=6379, socket_timeout=3).ping()
    except redis.RedisError as error:
        pytest.fail(f"The recipe's broker, Redis at 127.0.0.1:6379, is not reachable: {error}")


def enqueue(project) -> subprocess.CompletedProcess:
    (line,) = [line for line in snippet("tasks-celery-run").splitlines() if "manage.py" in line]
    argv = line.split("#", 1)[0].split()
    assert argv[:2] == ["python", "manage.py"], line
    return subprocess.run(
        [sys.executable, *argv[1:]],
        cwd=project.root,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_celery_recipe_as_written(tmp_path):
    settings_lines = snippet("tasks-celery-settings").splitlines()
    (broker,) = [line for line in settings_lines if line.startswith("CELERY_BROKER_URL")]
    assert "redis://127.0.0.1:6379/" in broker
    with host_project(tmp_path) as project:
        app_id, app_token = re.search(r"app (\d+) .*PODIO_APP_TOKEN=(\S+)", project.banner).groups()
        project.manage("migrate")
        project.env["PODIO_APP_TOKEN"] = app_token
        project.manage("podio_app_auth", app_id)
        del project.env["PODIO_APP_TOKEN"]
        project.manage("shell", stdin=DUE)

        # The backend alone, as the old page had it: no app to send with. It fails at once,
        # and says so to `manage.py check` too.
        project.append_settings("\n".join(line for line in settings_lines if line != broker))
        failed = enqueue(project)
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "No Celery app found in the project package 'mysite'" in failed.stderr
        assert "enqueued" not in failed.stdout and "Traceback" not in failed.stderr
        check = subprocess.run(
            [sys.executable, "manage.py", "check"],
            cwd=project.root,
            env=project.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert check.returncode == 1 and "django_podio.E020" in check.stderr

        # Celery's app, as the page writes it: still no broker, still a failure.
        (project.root / "mysite" / "celery.py").write_text(snippet("tasks-celery-app"))
        init = project.root / "mysite" / "__init__.py"
        init.write_text(init.read_text() + snippet("tasks-celery-init"))
        failed = enqueue(project)
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "has no broker_url: set CELERY_BROKER_URL" in failed.stderr

        # The whole page: the broker too. (And this run's own queue, see the docstring.)
        queue = f"django-podio-recipe-{uuid.uuid4().hex[:8]}"
        project.append_settings(f"{broker}\nCELERY_TASK_DEFAULT_QUEUE = {queue!r}")
        (worker,) = [line for line in snippet("tasks-celery-run").splitlines() if "celery" in line]
        project.background(worker.split("#", 1)[0].strip(), ready="ready.", timeout=120)
        done = enqueue(project)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.strip() == "1 refresh enqueued"

        deadline = time.monotonic() + 60
        while "refreshed: 1" not in (refreshed := project.manage("shell", stdin=REFRESHED)):
            if time.monotonic() > deadline:
                log = project.logs[-1].read_text()
                raise AssertionError(f"the worker refreshed nothing:\n{refreshed}\n{log}")
            time.sleep(0.5)
        assert "succeeded" in project.logs[-1].read_text()
