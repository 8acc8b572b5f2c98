"""One-row lookups for the authentication hot path, compiled once and run as plain SQL.

The SQL is the ORM's own (compiled from a queryset, so it fits whichever database is
configured), with its value converters; each request then pays one round trip and no query
building. On PostgreSQL the statement is also prepared once per database connection (PREPARE,
then EXECUTE): the server then skips parsing and planning it, which for the personal token's
join with its user was a third of the request's database time. Rows come back as model
instances made with `Model.from_db` (fields not selected are deferred, as with `.only()`), so
the rest of the code works with ordinary models.
"""

import itertools
from collections.abc import Callable
from weakref import WeakKeyDictionary

from django.db import connection
from django.db.models import QuerySet
from django.db.models.base import ModelState

_SENTINEL = "__compiled-lookup-parameter__"
_names = itertools.count()
# The statements prepared on each open PostgreSQL connection (they live as long as it does).
_prepared: WeakKeyDictionary = WeakKeyDictionary()


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
        self._compiled: dict[str, tuple[str, dict, list[int]]] = {}
        self.statement_name = f"tokens_site_lookup_{next(_names)}"

    def _compile(self) -> tuple[str, dict, list[int]]:
        """The SQL, its converters, and for each of its placeholders, in order, the argument it
        takes (an argument may appear more than once)."""
        key = connection.alias + ":" + connection.vendor
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
            compiled = self._compiled[key] = (sql, converters, order)
        return compiled

    def _prepared(self, sql: str, order: list[int]) -> str:
        """EXECUTE of the statement prepared on this PostgreSQL connection (preparing it on
        first use), taking the arguments in their own order."""
        connection.ensure_connection()
        prepared = _prepared.setdefault(connection.connection, set())
        if self.statement_name not in prepared:
            # Connection set-up, like the SET statements Django runs on connecting: straight
            # on the driver's connection, so it is no request's query. A prepared statement
            # outlives the transaction it was made in, rolled back or not.
            parts = sql.split("%s")
            numbered = parts[0] + "".join(
                f"${argument + 1}{part}" for argument, part in zip(order, parts[1:], strict=True)
            )
            with connection.connection.cursor() as cursor:
                cursor.execute(f"PREPARE {self.statement_name} AS {numbered}")
            prepared.add(self.statement_name)
        return f"EXECUTE {self.statement_name}({', '.join(['%s'] * len(self._sentinels))})"

    def row(self, *values) -> tuple | None:
        if len(values) != len(self._sentinels):
            raise TypeError(f"This lookup takes {len(self._sentinels)} values, not {len(values)}.")
        sql, converters, order = self._compile()
        if connection.vendor == "postgresql":
            statement, parameters = self._prepared(sql, order), list(values)
        else:
            statement, parameters = sql, [values[argument] for argument in order]
        with connection.cursor() as cursor:
            cursor.execute(statement, parameters)
            found = cursor.fetchone()
        if found is None:
            return None
        found = list(found)
        for position, (functions, expression) in converters.items():
            for function in functions:
                found[position] = function(found[position], expression, connection)
        return tuple(found)


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
