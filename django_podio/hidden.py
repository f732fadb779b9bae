"""Secrets kept where error reports cannot read them.

Django's DEBUG page and the admins' HTML mail print every frame's local variables with
``repr``; error trackers (Sentry and the like) record them too, walking dicts, lists and
tuples item by item and printing any other object with ``repr``. So a secret is safe in a
frame only inside an object that is neither a string nor a container and whose ``repr`` says
nothing: :class:`Hidden`. Code that must hand a secret to code we do not own (``requests``,
allauth) does it inline, from the wrapper, and :class:`frames_cut` keeps the frames below it
out of any report when something unexpected fails there.
"""

from __future__ import annotations

import contextlib
import traceback
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar

from .redaction import MASK, redact

__all__ = ["Hidden", "HiddenMapping", "frames_cut"]

T = TypeVar("T")


class Hidden(Generic[T]):
    """A secret with a ``repr`` that shows only its name; :meth:`reveal` gives it back.

    Not a ``str``, ``Mapping`` or ``Sequence``: trackers print it with ``repr`` instead of
    walking into it.
    """

    __slots__ = ("_name", "_value")

    def __init__(self, value: T, name: str = "secret") -> None:
        self._value = value
        self._name = name

    def reveal(self) -> T:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"<{self._name}: {MASK}>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Hidden secret is not pickled")


class HiddenMapping:
    """``[]``, ``get`` and ``in`` over secret values, for code that wants a dict (allauth's
    ``parse_token`` reads the token answer so); its ``repr`` names the keys only.

    Deliberately not a ``dict`` nor a ``Mapping``: trackers walk those item by item.
    """

    __slots__ = ("_values",)

    def __init__(self, **values: Any) -> None:
        self._values = values

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{key!r}: {MASK!r}" for key in self._values) + "}"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("hidden values are not pickled")


class frames_cut:
    """Re-raise an unexpected exception without the frames below this block.

    Inside the block, code we do not own (``requests``, a token endpoint's form body) holds
    secrets in plain local variables. An exception of a type in ``expected`` passes as it is
    (our own errors carry no secret and their frames are ours). Anything else is a bug: its
    whole traceback is logged as text (no local variables; the logger's filter masks secret-
    shaped text), and the same exception object is raised again from here, its traceback
    starting at this block, its message masked, its chain cut (``from None``). Django's
    reports and trackers then see the failure and the frames above, never the ones below.
    """

    def __init__(self, logger: Any, what: str, *, expected: tuple[type[BaseException], ...] = ()):
        self.logger = logger
        self.what = what
        self.expected = expected

    def __enter__(self) -> frames_cut:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        if error is None or not isinstance(error, Exception) or isinstance(error, self.expected):
            return False
        self.logger.error(
            "%s failed unexpectedly:\n%s",
            self.what,
            "".join(traceback.format_exception(kind, error, tb)),
        )
        with contextlib.suppress(Exception):  # an exception whose args cannot be set
            error.args = tuple(redact(a) if isinstance(a, str) else a for a in error.args)
        raise error.with_traceback(None) from None
