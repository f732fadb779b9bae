"""One-row SELECT and UPDATE statements for hot paths, built once per model, database and shape.

A token refresh costs three statements (read, claim, store). Built through the ORM, each one is
assembled and compiled again on every call, which costs more CPU than the database takes to
run it; a cron run at concurrency 8 is one process and one GIL, so that CPU is what bounds it.
Here the SQL text is built once per (model, database alias, shape) from the model's own column
names, and every value still goes through its field (encryption, time zones, the backend's
adapters and converters), so a row written or read here is the row the ORM would write or read.

Only rows chosen by equality, ``<`` and ``IS NULL`` conditions (and ORs of them): everything
wider stays with the ORM.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connections
from django.db.models import Model

M = TypeVar("M", bound=Model)

__all__ = ["Add", "AnyOf", "Eq", "IsNull", "Lt", "select_by_pk", "update_by_pk", "update_where"]


@dataclass(frozen=True)
class Add:
    """``SET column = column + amount``: an increment the database applies (no lost update)."""

    amount: int = 1


@dataclass(frozen=True)
class Eq:
    name: str
    value: Any


@dataclass(frozen=True)
class Lt:
    name: str
    value: Any


@dataclass(frozen=True)
class IsNull:
    name: str


Condition = Eq | Lt | IsNull

_cache: dict[tuple[Any, ...], Any] = {}
_cache_lock = threading.Lock()
_thread = threading.local()


def _cached(key: tuple[Any, ...], build: Any) -> Any:
    found = _cache.get(key)
    if found is None:
        found = build()
        with _cache_lock:
            _cache[key] = found
    return found


# Reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Select:
    sql: str
    attnames: tuple[str, ...]
    #: Per column, the backend's converters then the field's (the order the ORM applies them).
    converters: tuple[tuple[Any, ...], ...]
    columns: tuple[Any, ...]


def _build_select(model: type[Model], alias: str) -> _Select:
    connection = connections[alias]
    quote = connection.ops.quote_name
    meta = model._meta
    fields = meta.concrete_fields
    table = meta.db_table
    columns = tuple(field.get_col(table) for field in fields)
    sql = "SELECT {} FROM {} WHERE {} = %s".format(  # noqa: S608 - quoted names only  # nosec B608
        ", ".join(quote(field.column) for field in fields),
        quote(table),
        quote(meta.pk.column),
    )
    converters = tuple(
        tuple(connection.ops.get_db_converters(col)) + tuple(col.get_db_converters(connection))
        for col in columns
    )
    return _Select(sql, tuple(field.attname for field in fields), converters, columns)


def select_by_pk(model: type[M], pk: Any, using: str) -> M | None:
    """The row with primary key ``pk`` as a model instance (``Model.from_db``), or ``None``."""
    # Per thread: the backend's converters are bound to this thread's connection object
    # (Django keeps one per thread and alias, for the thread's life).
    cache: dict[tuple[Any, ...], _Select] = _thread.__dict__.setdefault("selects", {})
    key = (model._meta.label, alias_key(using))
    statement: _Select | None = cache.get(key)
    if statement is None:
        statement = cache[key] = _build_select(model, using)
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, [model._meta.pk.get_db_prep_value(pk, connection)])
        row = cursor.fetchone()
    if row is None:
        return None
    values = []
    for value, converters, col in zip(row, statement.converters, statement.columns, strict=True):
        for converter in converters:
            value = converter(value, col, connection)
        values.append(value)
    return model.from_db(using, list(statement.attnames), values)


# Writing ----------------------------------------------------------------------------------


_OPERATORS = {"eq": "{} = %s", "lt": "{} < %s", "isnull": "{} IS NULL"}


@dataclass(frozen=True)
class AnyOf:
    """``(a AND b) OR (c AND d) …``: alternatives, each a conjunction of conditions."""

    alternatives: tuple[tuple[Condition, ...], ...]

    @classmethod
    def of(cls, *alternatives: Sequence[Condition]) -> AnyOf:
        return cls(tuple(tuple(group) for group in alternatives))


Clause = Condition | AnyOf


def _kind(condition: Condition) -> str:
    return "eq" if isinstance(condition, Eq) else "lt" if isinstance(condition, Lt) else "isnull"


def _shape(clause: Clause) -> tuple[Any, ...]:
    if isinstance(clause, AnyOf):
        return ("any", tuple(tuple((c.name, _kind(c)) for c in g) for g in clause.alternatives))
    return (clause.name, _kind(clause))


def _conditions(where: Sequence[Clause]) -> list[Condition]:
    """Every condition, in the order their placeholders appear in the SQL."""
    found: list[Condition] = []
    for clause in where:
        if isinstance(clause, AnyOf):
            found.extend(c for group in clause.alternatives for c in group)
        else:
            found.append(clause)
    return found


@dataclass(frozen=True)
class _Update:
    sql: str
    #: The fields that prepare each SET value, in order (None: an increment's amount).
    set_fields: tuple[Any, ...]
    #: The fields that prepare each condition value, in order.
    where_fields: tuple[Any, ...]


def _build_update(
    model: type[Model],
    alias: str,
    set_shape: tuple[tuple[str, bool], ...],
    where_shape: tuple[tuple[Any, ...], ...],
) -> _Update:
    connection = connections[alias]
    quote = connection.ops.quote_name
    meta = model._meta
    assignments: list[str] = []
    set_fields: list[Any] = []
    for name, is_add in set_shape:
        field: Any = meta.get_field(name)
        column = quote(field.column)
        if is_add:
            assignments.append(f"{column} = {column} + %s")
            set_fields.append(None)
        else:
            assignments.append(f"{column} = %s")
            set_fields.append(field)

    where_fields: list[Any] = []

    def condition(name: str, kind: str) -> str:
        field: Any = meta.pk if name == "pk" else meta.get_field(name)
        if kind != "isnull":
            where_fields.append(field)
        return _OPERATORS[kind].format(quote(field.column))

    parts = []
    for shape in where_shape:
        if shape[0] == "any":
            alternatives = (" AND ".join(condition(*c) for c in group) for group in shape[1])
            parts.append("(" + " OR ".join(f"({text})" for text in alternatives) + ")")
        else:
            parts.append(condition(*shape))
    sql = "UPDATE {} SET {} WHERE {}".format(  # noqa: S608 - quoted names only  # nosec B608
        quote(meta.db_table), ", ".join(assignments), " AND ".join(parts) or "1 = 1"
    )
    return _Update(sql, tuple(set_fields), tuple(where_fields))


def update_where(
    model: type[Model], using: str, values: Mapping[str, Any], where: Sequence[Clause]
) -> int:
    """``UPDATE … SET values WHERE`` every clause of ``where`` (``"pk"`` names the primary key).

    Returns how many rows matched; an :class:`Add` value increments its column.
    """
    set_shape = tuple((name, isinstance(value, Add)) for name, value in values.items())
    where_shape = tuple(_shape(clause) for clause in where)
    statement: _Update = _cached(
        ("update", model._meta.label, alias_key(using), set_shape, where_shape),
        lambda: _build_update(model, using, set_shape, where_shape),
    )
    connection = connections[using]
    params = []
    for field, value in zip(statement.set_fields, values.values(), strict=True):
        if field is None:
            params.append(value.amount)
        else:
            params.append(field.get_db_prep_save(value, connection))
    taken = [c for c in _conditions(where) if not isinstance(c, IsNull)]
    for field, condition in zip(statement.where_fields, taken, strict=True):
        prepared = field.get_prep_value(condition.value)  # as a lookup does
        params.append(field.get_db_prep_value(prepared, connection, prepared=True))
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        return cursor.rowcount


def update_by_pk(
    model: type[Model],
    pk: Any,
    using: str,
    values: Mapping[str, Any],
    *,
    all_of: Sequence[Condition] = (),
    any_of: Sequence[Sequence[Condition]] = (),
) -> int:
    """``UPDATE … SET values WHERE pk = … AND all_of AND (any_of[0] OR any_of[1] …)``."""
    where: list[Clause] = [Eq("pk", pk), *all_of]
    if any_of:
        where.append(AnyOf.of(*any_of))
    return update_where(model, using, values, where)


def alias_key(using: str) -> tuple[str, str]:
    """A cache key part for a database alias: its vendor too (tests swap settings)."""
    connection = connections[using]
    return using, connection.vendor
