"""Querysets compiled once per process, then only run.

Django builds and compiles a queryset's SQL each time it is evaluated. For
the small queries that nearly every request makes (who is signed in, the
bell, the notification page) that costs several times what running them
does: profiled on the benchmark data set, compiling took a quarter of the
Python calls of a page. Their SQL depends on nothing but a few values (the
key: a user id, a page number), so :class:`CompiledQueries` compiles each
key's queryset once and afterwards only runs it, giving model instances
(with their ``select_related`` objects) exactly as the queryset would.

Only for a queryset whose SQL and parameters follow from its key alone: no
``timezone.now()``, no setting or database row read while building it. What
the query *returns* is read afresh on every call; nothing here caches rows.

Django's compiler is reused as it is, with its ``as_sql()`` answered from
the first call. A compiler belongs to its thread's database connection, so
each connection (thread) has its own entries.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from typing import TypeVar

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable
from django.db.models.sql import Query

M = TypeVar("M", bound=Model)


class CompiledQueries:
    """Querysets compiled once per key and connection, then only run.

    >>> users = CompiledQueries()
    >>> users.rows(7, lambda: User.objects.select_related("agency").filter(pk=7))
    [<User: ...>]  # built, compiled and run
    >>> users.rows(7, lambda: User.objects.select_related("agency").filter(pk=7))
    [<User: ...>]  # only run: ``build`` is not called again

    The key must determine everything ``build`` puts into the SQL. ``build``
    runs only when its key is new: building a queryset (``filter``,
    ``select_related``) costs nearly as much as compiling it.
    """

    def __init__(self, *, using: str = DEFAULT_DB_ALIAS, max_entries: int = 10_000) -> None:
        self.using = using
        self.max_entries = max_entries
        # connection -> key -> what _compile_rows / _compile_count made of it.
        self._by_connection: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def rows(self, key: Hashable, build: Callable[[], QuerySet[M]]) -> list[M]:
        """The model instances (with their select_related objects) ``build()`` would give."""
        compiled = self._compiled(("rows", key), build, _compile_rows)
        if compiled is None:
            return []
        model, query = compiled
        # A new QuerySet over the compiled query: ModelIterable asks the query
        # for its compiler, which answers with the one compiled before.
        return list(QuerySet(model=model, query=query, using=self.using))

    def count(self, key: Hashable, build: Callable[[], QuerySet]) -> int:
        """How many rows ``build()`` gives (make it narrow: ``.values("pk")``, no ordering)."""
        sql_and_params = self._compiled(("count", key), build, _compile_count)
        if sql_and_params is None:
            return 0
        with connections[self.using].cursor() as cursor:
            cursor.execute(*sql_and_params)
            return cursor.fetchone()[0]

    def forget(self) -> None:
        """Drop every compiled query (for tests that change what a key compiles to)."""
        with self._lock:
            self._by_connection.clear()

    def _compiled(self, key: tuple, build: Callable[[], QuerySet], compile_):
        connection = connections[self.using]
        entries = self._by_connection.get(connection)
        if entries is None:
            with self._lock:
                entries = self._by_connection.setdefault(connection, {})
        compiled = entries.get(key, _MISSING)
        if compiled is _MISSING:
            queryset = build()
            if queryset.db != self.using:
                raise ValueError(f"the queryset reads {queryset.db!r}, not {self.using!r}")
            if len(entries) >= self.max_entries:
                entries.clear()
            compiled = entries[key] = compile_(queryset, connection)
        return compiled


class CompiledList:
    """A queryset's count and slices through :class:`CompiledQueries`, for a Paginator.

    ``Paginator(CompiledList(compiled, key, build), 30)`` pages ``build()``
    (which must be ordered) as it would page the queryset, with each page's
    query and the count compiled once per key.
    """

    def __init__(
        self, compiled: CompiledQueries, key: Hashable, build: Callable[[], QuerySet]
    ) -> None:
        self.compiled, self.key, self.build = compiled, key, build

    def count(self) -> int:
        return self.compiled.count(("all", self.key), lambda: self.build().order_by().values("pk"))

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: slice) -> list:
        if not isinstance(index, slice) or index.step is not None:
            raise TypeError("CompiledList takes slices without a step")
        return self.compiled.rows((index.start, index.stop, self.key), lambda: self._slice(index))

    def _slice(self, index: slice) -> QuerySet:
        queryset = self.build()
        if not queryset.ordered:
            raise ValueError("pages of an unordered queryset would overlap")
        return queryset[index]


def _compile_rows(queryset: QuerySet[M], connection) -> tuple[type[M], Query] | None:
    if queryset._iterable_class is not ModelIterable or queryset._prefetch_related_lookups:
        # Only the SQL and select_related are kept: nothing else would be applied.
        raise ValueError("rows() takes querysets of model instances, without prefetch_related")
    query = queryset.query.chain()
    compiler = query.get_compiler(connection=connection)
    try:
        sql_and_params = compiler.as_sql()
    except EmptyResultSet:
        return None
    # The compiler keeps what as_sql() set up (the columns, how to build the
    # related objects); from now on it only hands out the same SQL.
    compiler.as_sql = lambda *args, **kwargs: sql_and_params
    query.get_compiler = lambda *args, **kwargs: compiler
    return queryset.model, query


def _compile_count(queryset: QuerySet, connection) -> tuple[str, tuple] | None:
    try:
        sql, params = queryset.query.get_compiler(connection=connection).as_sql()
    except EmptyResultSet:
        return None
    # Django compiled every value into params; only its own SQL is spliced here.
    return f"SELECT COUNT(*) FROM ({sql}) counted", tuple(params)  # noqa: S608


_MISSING = object()
