"""The Celery app of the tests: Redis at 127.0.0.1:6379, one queue per test run.

The parent (which enqueues) and the workers it starts read the same environment, so they
agree on the broker and the queue; another run on the same Redis uses another queue.
"""

from __future__ import annotations

import os

import django
from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

app = Celery("django_podio_tests")
app.conf.update(
    broker_url=os.environ.get("PODIO_CELERY_BROKER", "redis://127.0.0.1:6379/0"),
    task_default_queue=os.environ.get("PODIO_CELERY_QUEUE", "django-podio-tests"),
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
)

import django_podio.contrib.celery  # noqa: E402, F401  (registers run_task with this app)
