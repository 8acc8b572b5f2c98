"""One-row lookups for the authentication hot path, compiled once and run as plain SQL.

The SQL is the ORM's own (compiled from a queryset, so it fits whichever database is
configured), with its value converters; each request then pays one round trip and no query
building. On PostgreSQL the statement is also prepared once per database connection (PREPARE,
then EXECUTE): the server then skips parsing and planning it, which for the personal token's
join with its user was a third of the request's database time. Rows come back as model
instances made with `Model.from_db` (fields not selected are deferred, as with `.only()`), so
the rest of the code works with ordinary models.

Two lookups of one request can share a statement (`Companion`): Git's project is read by the
statement that looks the token up (or the address's ban), so each request of a clone with a
deploy token costs one round trip, not two (the second was a fifth of a cached `info/refs`
request's time).
"""

import contextlib
import itertools
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import NamedTuple
from weakref import WeakKeyDictionary

from django.db import connection
from django.db.models import QuerySet
from django.db.models.base import ModelState

_SENTINEL = "__compiled-lookup-parameter__"
_names = itertools.count()
# The statements prepared on each open PostgreSQL connection (they live as long as it does).
_prepared: WeakKeyDictionary = WeakKeyDictionary()


class _Part(NamedTuple):
    """One lookup's row within a statement's row: its columns [start, end), its converters
    (by column of the lookup's own row, as the ORM's compiler gives them), and the column that
    says whether it was found (None: the statement returns no row when it is not)."""

    start: int
    end: int
    converters: dict
    found: int | None = None


class _Statement(NamedTuple):
    name: str  # prepared under this name on PostgreSQL
    sql: str
    order: list[int]  # for each placeholder, the argument it takes
    arguments: int
    parts: tuple[_Part, ...]


class CompiledLookup:
    """`CompiledLookup(lambda value: SomeModel.objects.filter(key=value).values_list(...))`:
    `.row(value)` returns that one row (converted), or None. A lookup of several values takes a
    function of as many arguments and as many `sentinels`, and `.row(a, b)` the values."""

    def __init__(
        self,
        build: Callable[..., QuerySet],
        *,
        sentinel: object = _SENTINEL,
        sentinels: tuple[object, ...] | None = None,
    ):
        """`sentinel` (or one of `sentinels` per argument, all different) stands for a
        parameter while compiling: a value of the column's type that no real query uses."""
        self._build = build
        self._sentinels = sentinels if sentinels is not None else (sentinel,)
        if len(set(self._sentinels)) != len(self._sentinels):
            raise ValueError("Each parameter needs a sentinel of its own.")
        self._compiled: dict[tuple, _Statement] = {}
        self.number = next(_names)
        self.statement_name = f"tokens_site_lookup_{self.number}"

    def _compile(self) -> _Statement:
        key = (connection.alias, connection.vendor)
        compiled = self._compiled.get(key)
        if compiled is None:
            queryset = self._build(*self._sentinels)[:1]
            compiler = queryset.query.get_compiler(using=connection.alias)
            sql, params = compiler.as_sql()
            if sql.count("%s") != len(params) or "%%" in sql or not params:
                raise ValueError(f"A compiled lookup takes plain parameters, not {params}")
            try:
                order = [self._sentinels.index(param) for param in params]
            except ValueError:
                raise ValueError(
                    f"A compiled lookup takes its arguments only, not {params}"
                ) from None
            if sorted(set(order)) != list(range(len(self._sentinels))):
                raise ValueError("Every argument of a compiled lookup must be used.")
            converters = compiler.get_converters([column for column, _, _ in compiler.select])
            part = _Part(0, len(compiler.select), converters)
            compiled = _Statement(self.statement_name, sql, order, len(self._sentinels), (part,))
            self._compiled[key] = compiled
        return compiled

    def _compile_with(self, other: "CompiledLookup") -> _Statement:
        """One statement for this lookup's row and `other`'s (its arguments are this lookup's,
        then `other`'s): each a subquery LEFT JOINed to a single row, after a column that is
        NULL when it found nothing."""
        key = (connection.alias, connection.vendor, other.number)
        compiled = self._compiled.get(key)
        if compiled is None:
            mine, theirs = self._compile(), other._compile()
            joins, parts, column = [], [], 0
            for alias, statement in (("a", mine), ("b", theirs)):
                (part,) = statement.parts
                # The ORM's compiled SQL, placeholders and all: no value is put in the text.
                joins.append(
                    f"LEFT JOIN (SELECT 1 AS found, {alias}0.* FROM ({statement.sql}) AS"  # noqa: S608
                    f" {alias}0) AS {alias} ON 1 = 1"
                )
                start = column + 1
                parts.append(_Part(start, start + part.end, part.converters, found=column))
                column = start + part.end
            compiled = _Statement(
                f"{self.statement_name}_with_{other.number}",
                f"SELECT a.*, b.* FROM (SELECT 1) AS one {' '.join(joins)}",  # noqa: S608
                mine.order + [mine.arguments + argument for argument in theirs.order],
                mine.arguments + theirs.arguments,
                tuple(parts),
            )
            self._compiled[key] = compiled
        return compiled

    def row(self, *values) -> tuple | None:
        if len(values) != len(self._sentinels):
            raise TypeError(f"This lookup takes {len(self._sentinels)} values, not {len(values)}.")
        companion = _waiting.get()
        if companion is None or companion.read or companion.lookup is self:
            (found,) = _run(self._compile(), values)
            return found
        found, theirs = _run(self._compile_with(companion.lookup), values + companion.values)
        companion.found(theirs)
        return found


def _prepared_statement(statement: _Statement) -> str:
    """EXECUTE of the statement prepared on this PostgreSQL connection (preparing it on first
    use), taking the arguments in their own order."""
    connection.ensure_connection()
    prepared = _prepared.setdefault(connection.connection, set())
    if statement.name not in prepared:
        # Connection set-up, like the SET statements Django runs on connecting: straight on
        # the driver's connection, so it is no request's query. A prepared statement outlives
        # the transaction it was made in, rolled back or not.
        pieces = statement.sql.split("%s")
        numbered = pieces[0] + "".join(
            f"${argument + 1}{piece}"
            for argument, piece in zip(statement.order, pieces[1:], strict=True)
        )
        with connection.connection.cursor() as cursor:
            cursor.execute(f"PREPARE {statement.name} AS {numbered}")
        prepared.add(statement.name)
    return f"EXECUTE {statement.name}({', '.join(['%s'] * statement.arguments)})"


def _run(statement: _Statement, values: tuple) -> list[tuple | None]:
    """Each of the statement's lookups' row (converted), or None where it found none."""
    if connection.vendor == "postgresql":
        sql, parameters = _prepared_statement(statement), list(values)
    else:
        sql, parameters = statement.sql, [values[argument] for argument in statement.order]
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        found = cursor.fetchone()
    if found is None:
        return [None] * len(statement.parts)
    rows = []
    for part in statement.parts:
        if part.found is not None and found[part.found] is None:
            rows.append(None)
            continue
        row = list(found[part.start : part.end])
        for position, (functions, expression) in part.converters.items():
            for function in functions:
                row[position] = function(row[position], expression, connection)
        rows.append(tuple(row))
    return rows


class Companion:
    """A compiled lookup's row, read by the same statement as the next compiled lookup (other
    than its own) that runs inside `alongside(companion)` (one round trip for both). `row()`
    gives it, reading it on its own if none ran. Whatever the other lookup finds, this row is
    the same: the two are independent subqueries of one statement."""

    def __init__(self, lookup: CompiledLookup, *values):
        self.lookup, self.values = lookup, values
        self.read, self._row = False, None

    def found(self, row: tuple | None) -> None:
        self.read, self._row = True, row

    def row(self) -> tuple | None:
        if not self.read:
            self.found(self.lookup.row(*self.values))
        return self._row


_waiting: ContextVar[Companion | None] = ContextVar("compiled_lookup_companion", default=None)


@contextlib.contextmanager
def alongside(companion: Companion | None) -> Iterator[None]:
    """Inside, the first compiled lookup that runs (other than the companion's own) also reads
    `companion`'s row (None: none)."""
    reset = _waiting.set(companion)
    try:
        yield
    finally:
        _waiting.reset(reset)


def instance_from(model, values: dict):
    """A model instance from selected column values (by attname), as `Model.from_db` makes one
    but without running `__init__`: its pre_init/post_init signals (no receivers here) and
    per-field defaults were half of the lookup's Python time. Fields not given stay deferred:
    reading one loads it, as with `.only()`."""
    instance = model.__new__(model)
    instance._state = ModelState()
    instance._state.adding = False
    instance._state.db = connection.alias
    instance.__dict__.update(values)
    return instance


def attach(instance, field_name: str, related) -> None:
    """Set `instance.<field_name>` (a foreign key whose id is already on `instance`) to
    `related` without the descriptor's checks: what select_related does with a joined row."""
    instance._meta.get_field(field_name).set_cached_value(instance, related)
