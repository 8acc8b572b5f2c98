"""One-row lookups for the authentication hot path, compiled once and run as plain SQL.

The SQL is the ORM's own (compiled from a queryset, so it fits whichever database is
configured), with its value converters; each request then pays one round trip and no query
building. Rows come back as model instances made with `Model.from_db` (fields not selected are
deferred, as with `.only()`), so the rest of the code works with ordinary models.
"""

from collections.abc import Callable

from django.db import connection
from django.db.models import QuerySet

_SENTINEL = "__compiled-lookup-parameter__"


class CompiledLookup:
    """`CompiledLookup(lambda value: SomeModel.objects.filter(key=value).values_list(...))`:
    `.row(value)` returns that one row (converted), or None."""

    def __init__(self, build: Callable[[object], QuerySet], *, sentinel: object = _SENTINEL):
        """`sentinel` stands for the parameter while compiling: a value of the column's type."""
        self._build = build
        self._sentinel = sentinel
        self._compiled: dict[str, tuple[str, int, dict]] = {}

    def _compile(self) -> tuple[str, int, dict]:
        key = connection.alias + ":" + connection.vendor
        compiled = self._compiled.get(key)
        if compiled is None:
            queryset = self._build(self._sentinel)[:1]
            compiler = queryset.query.get_compiler(using=connection.alias)
            sql, params = compiler.as_sql()
            if list(params) != [self._sentinel]:
                raise ValueError(f"A compiled lookup takes exactly one parameter, not {params}")
            converters = compiler.get_converters([column for column, _, _ in compiler.select])
            compiled = self._compiled[key] = (sql, len(compiler.select), converters)
        return compiled

    def row(self, value) -> tuple | None:
        sql, _, converters = self._compile()
        with connection.cursor() as cursor:
            cursor.execute(sql, [value])
            found = cursor.fetchone()
        if found is None:
            return None
        found = list(found)
        for position, (functions, expression) in converters.items():
            for function in functions:
                found[position] = function(found[position], expression, connection)
        return tuple(found)


def instance_from(model, values: dict):
    """A model instance from selected column values (by attname); the rest stay deferred."""
    from django.db.models import DEFERRED

    ordered = [values.get(field.attname, DEFERRED) for field in model._meta.concrete_fields]
    return model.from_db(connection.alias, list(values), ordered)
