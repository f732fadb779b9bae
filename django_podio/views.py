"""The package's own views (an entry point): the webhook receiver.

The receiving service (:mod:`django_podio.hooks.receive`) authenticates and stores the
delivery; this view only decides who processes it after the response: the host's task
workers (:func:`django_podio.tasks.process_hook_event`) when it has some, else this process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from . import tasks
from .hooks.process import drain_in_process
from .hooks.receive import ProcessAfterResponse, receive
from .hooks.secret import HookSecret


@csrf_exempt
def hook_view(request: HttpRequest, secret: HookSecret | str) -> HttpResponse:
    response, event = receive(request, secret)
    if event is None:
        return response
    after: list[Callable[[], object]] = []
    if event.duplicate_of_id is None:
        if tasks.uses_workers():  # the host's task workers process it (django_podio.tasks)
            after.append(functools.partial(tasks.process_hook_event.enqueue, event.pk))
        else:
            after.append(drain_in_process)
    return ProcessAfterResponse(
        response.content, status=response.status_code, content_type="text/plain", after=after
    )
