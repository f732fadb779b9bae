"""Run django-podio's tasks (any ``django.tasks`` task, in fact) on Celery workers.

No maintained ``django.tasks`` backend for Celery covers both Django 5.2 and 6.x yet, so this
is a small one: ``enqueue`` sends one Celery message naming the task, and the Celery task
:func:`run_task` below imports and runs it in the worker. ``run_after`` becomes Celery's
``eta``, so a rate-limited task that re-enqueues itself waits in the broker, not in a worker.

Set-up in the host project, Celery configured as Celery's Django guide does it (the recipe in
docs/tasks.rst, run as pasted by the test suite)::

    TASKS = {"default": {"BACKEND": "django_podio.contrib.celery.CeleryBackend"}}
    CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    # proj/celery.py: app = Celery("proj"), app.config_from_object(..., namespace="CELERY"),
    import django_podio.contrib.celery  # noqa: F401  (registers run_task with the app)

then run ``celery -A proj worker``.

**The app is never guessed.** ``OPTIONS["APP"]`` names it as a dotted path
(``"proj.celery.app"``); without it the backend finds the app as ``celery -A proj`` does,
``proj`` being the package of the settings module (``proj.settings``): ``proj.app``,
``proj.celery`` or the module ``proj/celery.py``. Celery's own fallback app (the one
``celery.current_app`` gives a thread that has no app, with the broker ``amqp://localhost``)
is never used, and an app without a ``broker_url`` is refused: either would send the tasks
where no worker reads them while reporting success. Both are the system check error
``django_podio.E020`` and fail every enqueue with ``ImproperlyConfigured``.

``OPTIONS["QUEUE"]`` names one Celery queue for every task (default: the task's
``queue_name`` when it is not ``"default"``, else Celery's default queue).

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

from celery import Celery, shared_task
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
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

    def __init__(self, alias: str, params: dict) -> None:
        super().__init__(alias, params)
        self._celery_app: Celery | None = None

    def _app(self) -> Celery:
        """The project's Celery app, with a broker; ``ImproperlyConfigured`` otherwise."""
        if self._celery_app is None:
            app = find_project_app(self.options.get("APP"))
            if not (app.conf.broker_write_url or app.conf.broker_url):
                raise ImproperlyConfigured(
                    f"The Celery app {app.main!r} has no broker_url: set CELERY_BROKER_URL "
                    "(read by app.config_from_object('django.conf:settings', "
                    "namespace='CELERY')). Celery would send the tasks to amqp://localhost."
                )
            self._celery_app = app
        return self._celery_app

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        messages = list(super().check(**kwargs))
        try:
            self._app()
        except ImproperlyConfigured as error:
            messages.append(
                checks.Error(
                    str(error),
                    hint="See 'With Celery' in django-podio's docs/tasks.rst.",
                    obj=f"TASKS[{self.alias!r}]",
                    id="django_podio.E020",
                )
            )
        return messages

    def enqueue(self, task: Any, args: Any, kwargs: Any) -> Any:
        self.validate_task(task)
        app = self._app()
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
        app.send_task(
            TASK_NAME,
            args=[task.module_path, self.alias, result.id, result.args, result.kwargs],
            task_id=result.id,
            eta=task.run_after,
            queue=queue,
        )
        return result


def find_project_app(path: str | None) -> Celery:
    """The Celery app at the dotted ``path``, or the project's, found as ``celery -A`` does.

    Without ``path`` the project is the package of the settings module (``proj`` for
    ``proj.settings``), searched with Celery's own ``find_app``: ``proj.app``, ``proj.celery``,
    then the module ``proj/celery.py``. Never ``celery.current_app``: in a thread where the
    project's app was not made current (a web server's request threads), that is Celery's
    fallback app, whose broker is ``amqp://localhost``.
    """
    from importlib import import_module

    from celery.app.utils import find_app

    if path:
        where = f'OPTIONS["APP"] = {path!r}'
        try:
            app = import_string(path)
        except ImportError as error:
            raise ImproperlyConfigured(f"{where} cannot be imported: {error}") from None
    else:
        module = getattr(settings, "SETTINGS_MODULE", None) or ""
        project = module.rpartition(".")[0]
        where = f"the project package {project!r}"
        hint = (
            "Create proj/celery.py as Celery's Django guide shows, or name the app in "
            'TASKS[...]["OPTIONS"]["APP"] (e.g. "proj.celery.app").'
        )
        if not project:
            raise ImproperlyConfigured(
                f"No Celery app: the settings module {module!r} is not inside a package. {hint}"
            )
        try:
            app = find_app(project, imp=import_module)
        except (ImportError, AttributeError):
            raise ImproperlyConfigured(
                f"No Celery app found in {where} (no {project}.app, {project}.celery or "
                f"{project}/celery.py with a Celery app). {hint}"
            ) from None
    if not isinstance(app, Celery):
        raise ImproperlyConfigured(f"{where} is {type(app).__name__}, not a Celery app.")
    return app


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
