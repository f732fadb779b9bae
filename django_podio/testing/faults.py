"""Fault injection: queued one-shot failures and seeded random ones.

Retry, refresh and error-mapping code is only trustworthy if it has met the failures Podio and
the network actually produce, so each kind here mimics one of them.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

FAULT_KINDS = (
    "500",
    "502",
    "503",
    "504",
    "drop",
    "malformed_json",
    "html",
    "420",
    "timeout",
    # After processing: the request takes effect (an item is created …), then the answer is
    # lost: dropped, replaced by a 5xx, or sent too late for the client's read timeout.
    "drop_after",
    "500_after",
    "504_after",
    "timeout_after",
)
AFTER_KINDS = frozenset(kind for kind in FAULT_KINDS if kind.endswith("_after"))
DEFAULT_RANDOM_KINDS = ("500", "502", "503", "drop", "malformed_json")
# The OAuth endpoints only fail when a test aims at them: a stray random fault there would
# make unrelated tests flaky.
OAUTH_PREFIX = "/oauth/"


@dataclass
class Fault:
    kind: str
    path: str | None = None
    method: str | None = None
    count: int = 1
    wait_seconds: int = 5

    @property
    def after(self) -> bool:
        """Whether the request is processed before this fault hits its answer."""
        return self.kind in AFTER_KINDS


def path_matches(path: str, prefix: str | None) -> bool:
    """Segment-aware prefix match that ignores trailing slashes ("/item" matches "/item/1")."""
    if prefix is None:
        return not path.startswith(OAUTH_PREFIX)
    wanted = prefix.rstrip("/")
    if not wanted:
        return True
    actual = path.rstrip("/")
    return actual == wanted or actual.startswith(wanted + "/")


class FaultInjector:
    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._queue: list[Fault] = []
        self._rng = random.Random(seed)
        self.rate = 0.0
        self.kinds: tuple[str, ...] = DEFAULT_RANDOM_KINDS
        self.paths: list[str] | None = None
        self.methods: frozenset[str] | None = None

    def add(self, fault: Fault) -> None:
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; use one of {FAULT_KINDS}")
        if fault.count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._queue.append(fault)

    def set_rate(
        self,
        rate: float,
        kinds: tuple[str, ...] | list[str],
        paths: list[str] | None,
        methods: list[str] | tuple[str, ...] | None = None,
    ) -> None:
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}")
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        with self._lock:
            self.rate = rate
            self.kinds = tuple(kinds)
            self.paths = list(paths) if paths is not None else None
            self.methods = frozenset(m.upper() for m in methods) if methods else None

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self.rate = 0.0

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._queue)

    def take(self, method: str, path: str) -> Fault | None:
        """The fault (if any) this request meets; queued ones first, in the order added."""
        with self._lock:
            for fault in self._queue:
                if fault.method is not None and fault.method.upper() != method.upper():
                    continue
                if not path_matches(path, fault.path):
                    continue
                fault.count -= 1
                if fault.count <= 0:
                    self._queue.remove(fault)
                return Fault(fault.kind, fault.path, fault.method, 1, fault.wait_seconds)
            if self.rate <= 0 or not self.kinds:
                return None
            if self.methods is not None and method.upper() not in self.methods:
                return None
            if self.paths is None:
                applies = path_matches(path, None)
            else:
                applies = any(path_matches(path, p) for p in self.paths)
            if applies and self._rng.random() < self.rate:
                return Fault(self._rng.choice(self.kinds), path)
            return None
