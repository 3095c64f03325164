"""Querysets compiled once per process and shape, then only run.

Django builds and compiles a queryset's SQL each time it is evaluated. For
the small queries that nearly every request makes (the session, who is
signed in, the bell, the notification page) that costs several times what
running them does: profiled on the benchmark data set, building and
compiling took a quarter of a page's Python calls.

Such a query has a fixed *shape* (its SQL) and a few *values* (a user id, an
organization id, a session key) that only reach its parameters. So
:class:`CompiledQueries` builds and compiles each shape once, with stand-in
values, notes where each stand-in lands among the parameters, and from then
on only runs that SQL with the real values put in their places. It gives
model instances (with their ``select_related`` objects) exactly as the
queryset would; what the query returns is read afresh on every call.

The shape must determine everything else ``build`` puts into the SQL (which
branch a user's role takes, a page's LIMIT); never ``timezone.now()`` or a
row read while building. A value that ``build`` changes on its way into the
parameters (``icontains`` wraps it in ``%``) is refused when it compiles.

A compiler belongs to its thread's database connection, so each connection
(thread) has its own entries. An entry weighs about 45 KB: shapes, not
users or pages, are what may be many.

Imports no app of ours (see core/__init__.py).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable, ValuesListIterable
from django.db.models.sql import Query
from django.db.models.sql.compiler import SQLCompiler

M = TypeVar("M", bound=Model)
Value = int | str

# Stand-ins for the values while a shape compiles: inside a 32-bit integer
# column's range (Django 5 turns an out-of-range integer lookup into "matches
# nothing"), and nothing a real row holds or a literal in our queries.
_INT_STAND_IN = 2_140_000_000
_STR_STAND_IN = "\x1fcompiled-value-"


@dataclass
class _Compiled:
    sql: str
    params: tuple
    # For each value, where its stand-in landed among the parameters.
    slots: tuple[tuple[int, ...], ...]
    model: type[Model] | None = None
    iterable_class: type | None = None
    query: Query | None = None
    compiler: SQLCompiler | None = None

    def params_for(self, values: tuple[Value, ...]) -> tuple:
        params = list(self.params)
        for value, slots in zip(values, self.slots, strict=True):
            for index in slots:
                params[index] = value
        return tuple(params)


class CompiledQueries:
    """Querysets compiled once per shape and connection, then only run.

    >>> compiled = CompiledQueries()
    >>> compiled.rows("user", lambda pk: User.objects.filter(pk=pk), 7)
    [<User: 7>]  # built with a stand-in for 7, compiled and run
    >>> compiled.rows("user", lambda pk: User.objects.filter(pk=pk), 8)
    [<User: 8>]  # only run: ``build`` is not called again
    """

    def __init__(self, *, using: str = DEFAULT_DB_ALIAS, max_entries: int = 200) -> None:
        self.using = using
        self.max_entries = max_entries
        # connection -> ("rows" | "count", shape) -> _Compiled, or None: matches nothing.
        self._by_connection: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def rows(self, shape: Hashable, build: Callable[..., QuerySet[M]], *values: Value) -> list[M]:
        """The model instances (with their select_related objects) ``build(*values)``
        gives, or its tuples if it is a ``values_list()``."""
        if not _storable(values):
            return list(build(*values))
        compiled = self._compiled(("rows", shape), build, values, _compile_rows)
        if compiled is None:
            return []
        sql_and_params = (compiled.sql, compiled.params_for(values))
        # The compiler keeps what as_sql() set up (the columns, how to build
        # the related objects); it is this connection's alone, so handing it
        # this call's parameters cannot reach another thread's query.
        compiled.compiler.as_sql = lambda *args, **kwargs: sql_and_params
        # A new QuerySet over the compiled query: its iterable asks the query
        # for its compiler, which answers with the one compiled before.
        queryset = QuerySet(model=compiled.model, query=compiled.query, using=self.using)
        queryset._iterable_class = compiled.iterable_class
        return list(queryset)

    def count(self, shape: Hashable, build: Callable[..., QuerySet], *values: Value) -> int:
        """How many rows ``build(*values)`` gives (make it narrow: ``.values("pk")``)."""
        if not _storable(values):
            return build(*values).count()
        compiled = self._compiled(("count", shape), build, values, _compile_count)
        if compiled is None:
            return 0
        with connections[self.using].cursor() as cursor:
            cursor.execute(compiled.sql, compiled.params_for(values))
            return cursor.fetchone()[0]

    def forget(self) -> None:
        """Drop every compiled query (for tests that change what a shape compiles to)."""
        with self._lock:
            self._by_connection.clear()

    def _compiled(self, key: tuple, build, values: tuple, compile_) -> _Compiled | None:
        connection = connections[self.using]
        entries = self._by_connection.get(connection)
        if entries is None:
            with self._lock:
                entries = self._by_connection.setdefault(connection, {})
        compiled = entries.get(key, _MISSING)
        if compiled is _MISSING:
            stand_ins = _stand_ins(values)
            queryset = build(*stand_ins)
            if queryset.db != self.using:
                raise ValueError(f"the queryset reads {queryset.db!r}, not {self.using!r}")
            if len(entries) >= self.max_entries:
                entries.clear()
            compiled = entries[key] = compile_(queryset, connection, stand_ins)
        return compiled


class CompiledList:
    """A queryset's count and pages through :class:`CompiledQueries`, for a Paginator.

    ``Paginator(CompiledList(compiled, shape, build, *values), 30)`` pages
    ``build(*values)`` (which must be ordered) as it would page the queryset;
    the count and each page's query are compiled once per shape. With
    ``columns``, a page is ``values_list(*columns)`` tuples, while the count
    reads only the rows' ids, without the joins the columns need. With
    ``compiled=None`` nothing is kept: both are built every time (a query
    that reads the clock).
    """

    def __init__(
        self,
        compiled: CompiledQueries | None,
        shape: Hashable,
        build: Callable[..., QuerySet],
        *values: Value,
        columns: tuple[str, ...] | None = None,
    ) -> None:
        self.compiled, self.shape, self.build, self.values = compiled, shape, build, values
        self.columns = columns

    def count(self, *, at_most: int | None = None) -> int:
        """How many rows there are; with ``at_most``, counting stops there
        (``CappedPaginator``: the count reads no further than it needs)."""

        def narrow(*values: Value) -> QuerySet:
            # No order: how many there are does not depend on it, and unordered,
            # PostgreSQL may stop at the limit instead of walking an index.
            rows = self.build(*values).order_by().values("pk")
            return rows if at_most is None else rows[:at_most]

        if self.compiled is None:
            return narrow(*self.values).count()
        return self.compiled.count(("count", at_most, self.shape), narrow, *self.values)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: slice) -> list:
        if not isinstance(index, slice) or index.step is not None:
            raise TypeError("CompiledList takes slices without a step")
        if self.compiled is None:
            return list(self._slice(index, self.values))
        # LIMIT and OFFSET are written into the SQL: each page is a shape.
        return self.compiled.rows(
            (index.start, index.stop, self.shape),
            lambda *v: self._slice(index, v),
            *self.values,
        )

    def _slice(self, index: slice, values: tuple) -> QuerySet:
        queryset = self.build(*values)
        if not queryset.ordered:
            raise ValueError("pages of an unordered queryset would overlap")
        if self.columns is not None:
            queryset = queryset.values_list(*self.columns)
        return queryset[index]


def prefetched(instance: Model, name: str, rows: list[Model]) -> None:
    """Keep ``rows`` as ``instance.<name>.all()``, where ``prefetch_related(name)``
    would put them (``name``: a reverse foreign key, such as an issue's
    ``cooperations``), each row knowing ``instance`` as its parent."""
    manager = getattr(instance, name)
    parent = manager.field  # the rows' foreign key to instance
    for row in rows:
        parent.set_cached_value(row, instance)
    # The manager's own queryset, filtered to this parent: anything that asks
    # it more than .all() reads exactly this parent's rows, as after a prefetch.
    queryset = manager.get_queryset()
    queryset._result_cache = rows
    queryset._prefetch_done = True
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}
    instance._prefetched_objects_cache[parent.remote_field.cache_name] = queryset


def _storable(values: tuple) -> bool:
    """Whether every integer fits a 64-bit column. Django answers a lookup of
    a larger one (``/issues/100000000000000000000/``) without asking the
    database, which would refuse it; such values take Django's own way."""
    return all(-(2**63) <= value < 2**63 for value in values if isinstance(value, int))


def _stand_ins(values: tuple) -> tuple[Value, ...]:
    stand_ins = []
    for number, value in enumerate(values):
        # bool is an int, but a flag changes a query's shape, not its parameters.
        if isinstance(value, int) and not isinstance(value, bool):
            stand_ins.append(_INT_STAND_IN + number)
        elif isinstance(value, str):
            stand_ins.append(f"{_STR_STAND_IN}{number}")
        else:
            raise TypeError(f"values are ints and strings; {value!r} belongs in the shape")
    return tuple(stand_ins)


def _compile_rows(queryset: QuerySet[M], connection, stand_ins: tuple) -> _Compiled | None:
    iterable_class = queryset._iterable_class
    if iterable_class not in (ModelIterable, ValuesListIterable) or (
        queryset._prefetch_related_lookups
    ):
        # Only the SQL, select_related and how rows are made are kept: nothing
        # else (a prefetch, values()' dicts, a flat list's names) would be applied.
        raise ValueError(
            "rows() takes querysets of model instances or of values_list() tuples, "
            "without prefetch_related"
        )
    query = queryset.query.chain()
    compiler = query.get_compiler(connection=connection)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return None
    query.get_compiler = lambda *args, **kwargs: compiler
    compiled = _Compiled(sql, tuple(params), _slots(sql, params, stand_ins))
    compiled.model, compiled.query, compiled.compiler = queryset.model, query, compiler
    compiled.iterable_class = iterable_class
    return compiled


def _compile_count(queryset: QuerySet, connection, stand_ins: tuple) -> _Compiled | None:
    try:
        sql, params = queryset.query.get_compiler(connection=connection).as_sql()
    except EmptyResultSet:
        return None
    # Django compiled every value into params; only its own SQL is spliced here.
    counted = f"SELECT COUNT(*) FROM ({sql}) counted"  # noqa: S608
    return _Compiled(counted, tuple(params), _slots(sql, params, stand_ins))


def _slots(sql: str, params, stand_ins: tuple) -> tuple[tuple[int, ...], ...]:
    slots = []
    for stand_in in stand_ins:
        found = tuple(
            i for i, p in enumerate(params) if type(p) is type(stand_in) and p == stand_in
        )
        # A value the query changed on its way (``icontains`` wraps a string in
        # %) or wrote into the SQL itself would stay the stand-in: refused.
        # Lookups pass integers through unchanged; one the query does not use
        # at all (a reader of everything's id, in a list of every issue) is fine.
        changed = str(stand_in) in sql or any(
            isinstance(p, str) and str(stand_in) in p and p != stand_in for p in params
        )
        if changed:
            raise ValueError(
                "a value did not reach the query's parameters unchanged; "
                "a query that transforms it cannot be compiled once"
            )
        slots.append(found)
    return tuple(slots)


_MISSING = object()
