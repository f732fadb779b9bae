"""Podio webhooks: register (:mod:`.register`), receive (:mod:`.receive`), process
(:mod:`.process`). Store first, process after: see ``shared/design.md``."""

from __future__ import annotations

from .process import (
    ProcessReport,
    drain_in_process,
    process_event,
    process_item,
    process_pending,
    replay,
)
from .register import (
    DEFAULT_EVENTS,
    SyncReport,
    create_hook,
    delete_hook,
    request_verification,
    sync_hooks,
)

__all__ = [
    "DEFAULT_EVENTS",
    "ProcessReport",
    "SyncReport",
    "create_hook",
    "delete_hook",
    "drain_in_process",
    "process_event",
    "process_item",
    "process_pending",
    "replay",
    "request_verification",
    "sync_hooks",
]
