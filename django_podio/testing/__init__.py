"""A faithful fake of Podio (OAuth and the REST API) for tests and the local demo.

Standard library only, so it imports without Django and can run as a separate process
(``python -m django_podio.testing``) next to any site under test.
"""

from __future__ import annotations

from .faults import FAULT_KINDS, Fault
from .server import FakePodio
from .state import (
    REMOVE,
    AccessToken,
    ApiError,
    AuthCode,
    FakeApp,
    FakeHook,
    FakeItem,
    FakeOrg,
    FakeSpace,
    FakeUser,
    HookDelivery,
    RecordedRequest,
    RefreshToken,
)

__all__ = [
    "FAULT_KINDS",
    "REMOVE",
    "AccessToken",
    "ApiError",
    "AuthCode",
    "FakeApp",
    "FakeHook",
    "FakeItem",
    "FakeOrg",
    "FakePodio",
    "FakeSpace",
    "FakeUser",
    "Fault",
    "HookDelivery",
    "RecordedRequest",
    "RefreshToken",
]
