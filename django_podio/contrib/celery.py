"""Run django-podio's tasks (any ``django.tasks`` task, in fact) on Celery workers.

No maintained ``django.tasks`` backend for Celery covers both Django 5.2 and 6.x yet, so this
is a small one: ``enqueue`` sends one Celery message naming the task, and the Celery task
:func:`run_task` below imports and runs it in the worker. ``run_after`` becomes Celery's
``eta``, so a rate-limited task that re-enqueues itself waits in the broker, not in a worker.

Set-up in the host project (Celery already configured the usual way, e.g. ``proj/celery.py``
with ``app.config_from_object("django.conf:settings", namespace="CELERY")``)::

    TASKS = {"default": {"BACKEND": "django_podio.contrib.celery.CeleryBackend"}}
    # proj/celery.py, after creating the app:
    import django_podio.contrib.celery  # noqa: F401  (registers run_task with the app)

then run ``celery -A proj worker``. ``OPTIONS`` may name the Celery app as a dotted path
(``{"APP": "proj.celery.app"}``; default: Celery's current app) and a Celery queue for every
task (``{"QUEUE": "podio"}``; default: the task's ``queue_name`` when it is not
``"default"``, else Celery's default queue).

``enqueue`` sends the message at once, not when the caller's transaction commits: inside
``atomic()`` (or ``ATOMIC_REQUESTS``) enqueue from ``transaction.on_commit`` so a worker never
looks for rows that are not committed yet (or never will be).

When a worker dies mid-task: Celery's default early acknowledgement means the message is
gone, so the task is not run again by Celery; django-podio's tasks are built for that (the next
``refresh_due`` finds the connection still due; the next ``sync_app`` resumes from the
checkpoint). Results are not stored (``supports_get_result`` is False): use Celery's result
backend if you need them.
"""

from __future__ import annotations

import uuid
from typing import Any

from celery import current_app, shared_task
from django.utils import timezone
from django.utils.module_loading import import_string

# Not through django_podio.tasks: when this backend is the default one, defining those tasks
# loads this module, which must not need them loaded first.
try:  # Django >= 6.0
    from django import tasks as api
except ImportError:
    try:
        import django_tasks as api  # type: ignore[no-redef,unused-ignore]
    except ImportError:  # pragma: no cover - the message says what to install
        raise ImportError(
            "django_podio.contrib.celery needs Django's Tasks API: Django >= 6.0, or "
            "`pip install django-podio[tasks]` on Django 5.2."
        ) from None

from importlib import import_module

_base = import_module(f"{api.__name__}.base")
_backends: Any = import_module(f"{api.__name__}.backends.base")

__all__ = ["TASK_NAME", "CeleryBackend"]

#: The Celery task every Django task is sent as (its worker must import this module).
TASK_NAME = "django_podio.contrib.celery.run_task"


class CeleryBackend(_backends.BaseTaskBackend):
    supports_defer = True
    supports_async_task = False
    supports_get_result = False
    supports_priority = False

    def _app(self) -> Any:
        path = self.options.get("APP")
        return import_string(path) if path else current_app

    def enqueue(self, task: Any, args: Any, kwargs: Any) -> Any:
        self.validate_task(task)
        result = _base.TaskResult(
            task=task,
            id=str(uuid.uuid4()),
            status=_base.TaskResultStatus.READY,
            enqueued_at=timezone.now(),
            started_at=None,
            last_attempted_at=None,
            finished_at=None,
            args=list(args),
            kwargs=dict(kwargs),
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        queue = self.options.get("QUEUE")
        if queue is None and task.queue_name != _base.DEFAULT_TASK_QUEUE_NAME:
            queue = task.queue_name
        self._app().send_task(
            TASK_NAME,
            args=[task.module_path, self.alias, result.id, result.args, result.kwargs],
            task_id=result.id,
            eta=task.run_after,
            queue=queue,
        )
        return result


@shared_task(name=TASK_NAME)
def run_task(module_path: str, alias: str, result_id: str, args: list, kwargs: dict) -> Any:
    """Import the ``django.tasks`` task named in the message and run it here."""
    task = import_string(module_path)
    if not isinstance(task, _base.Task):  # a message may only name a task, nothing else
        raise TypeError(f"{module_path} is not a django.tasks task")
    task = task.using(backend=alias)
    if not task.takes_context:
        return task.call(*args, **kwargs)
    now = timezone.now()
    result = _base.TaskResult(
        task=task,
        id=result_id,
        status=_base.TaskResultStatus.RUNNING,
        enqueued_at=None,
        started_at=now,
        last_attempted_at=now,
        finished_at=None,
        args=list(args),
        kwargs=dict(kwargs),
        backend=alias,
        errors=[],
        worker_ids=[],
    )
    return task.call(_base.TaskContext(task_result=result), *args, **kwargs)
