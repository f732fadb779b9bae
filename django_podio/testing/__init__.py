"""A faithful fake of Podio (OAuth and the REST API) for tests and the local demo.

Standard library only, so it imports without Django and can run as a separate process
(``python -m django_podio.testing``) next to any site under test. Its names are imported on
first use, so importing the package (the pytest plugin does) costs nothing.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Imported on first use (PEP 562): the pytest plugin (``pytest_plugin``, loaded at every
# pytest start of every project that installs django-podio) imports this package, and a
# project that never asks for ``fake_podio`` should not pay for the server and its state.
_WHERE = {
    "FAULT_KINDS": "faults",
    "Fault": "faults",
    "FakePodio": "server",
}


def __getattr__(name: str) -> Any:
    if name in __all__:
        module = import_module(f".{_WHERE.get(name, 'state')}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
