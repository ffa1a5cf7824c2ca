"""The producers' INSERT statements: one task, or a batch in one statement.

Raw SQL because the ORM's insert is the dearest part of an enqueue: compiling
`Model.save()` and binding 26 parameters client-side took about as long as the
INSERT's round trip, and `bulk_create` converts every parameter of every row
in Python. Both statements still go through Django's connection, so they join
the caller's transaction, and database errors come out as Django's.

- One task: a prepared INSERT (server-side binding: parsed and planned once
  per connection).
- A batch: one INSERT ... SELECT over a JSON array. Columns whose value is the
  same in every row (type, queue, priority, the options...) travel once, as
  parameters; the others (id, payload, times) as one JSON document per batch,
  built by json.dumps in C and unpacked by jsonb_array_elements. This is about
  twice as fast as COPY, whose rows psycopg formats value by value in Python.
"""

import json
from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter
from uuid import UUID

from django.db import connection, models

from tasks import conf
from tasks.db import raw_cursor
from tasks.models import Task

FIELDS = [field for field in Task._meta.concrete_fields]
ATTNAMES = [field.attname for field in FIELDS]
_JSON = {field.attname for field in FIELDS if isinstance(field, models.JSONField)}
_COLUMNS = ", ".join(connection.ops.quote_name(field.column) for field in FIELDS)
_TABLE = connection.ops.quote_name(Task._meta.db_table)

_row = attrgetter(*ATTNAMES)

INSERT_ONE = f"INSERT INTO {_TABLE} ({_COLUMNS}) VALUES ({', '.join(['%s'] * len(FIELDS))})"


def insert_one(task: Task) -> None:
    """Insert an unsaved task (made by tasks.queue.build) in one prepared statement."""
    values = [_db_value(name, getattr(task, name)) for name in ATTNAMES]
    with connection.wrap_database_errors:
        raw_cursor().execute(INSERT_ONE, values, prepare=conf.get("PREPARE"))
    _saved(task)


def insert_many(tasks: Sequence[Task]) -> None:
    """Insert unsaved tasks in one statement, all or nothing, in the caller's transaction."""
    if not tasks:
        return
    columns = list(zip(*(_row(task) for task in tasks)))
    constant, varying, selects, params = [], [], [], {}
    for field, values in zip(FIELDS, columns):
        first = values[0]
        # Ids always vary (even in a batch of one): the JSON document has one element per row.
        same = field.primary_key is False and values.count(first) == len(values)
        (constant if same else varying).append((field, values))
    for position, (field, _) in enumerate(varying):
        selects.append((field.attname, _from_json(field, position)))
    for field, values in constant:
        params[field.attname] = _db_value(field.attname, values[0])
        selects.append((field.attname, f"CAST(%({field.attname})s AS {_cast(field)})"))
    order = {name: i for i, name in enumerate(ATTNAMES)}
    selects.sort(key=lambda item: order[item[0]])
    params["rows"] = json.dumps(list(zip(*(_json_column(field, values) for field, values in varying))))
    sql = (f"INSERT INTO {_TABLE} ({_COLUMNS}) SELECT {', '.join(expr for _, expr in selects)} "
           f"FROM jsonb_array_elements(%(rows)s::jsonb) AS e")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    for task in tasks:
        _saved(task)


def _db_value(name: str, value):
    # Django stores a JSONField's None as SQL NULL; any other value as JSON text.
    if name in _JSON and value is not None:
        return json.dumps(value)
    return value


def _cast(field: models.Field) -> str:
    return "jsonb" if field.attname in _JSON else field.db_type(connection)


def _from_json(field: models.Field, position: int) -> str:
    """The SQL that reads column `position` of a JSON row `e` as `field`'s type."""
    if field.attname in _JSON:
        return f"NULLIF(e->{position}, 'null'::jsonb)"
    if isinstance(field, models.DateTimeField):
        return f"to_timestamp((e->>{position})::float8)"
    return f"(e->>{position})::{field.db_type(connection)}"


def _json_column(field: models.Field, values: Sequence) -> list:
    """A column's values as JSON can carry them (ids as text, times as epoch seconds)."""
    first = next((v for v in values if v is not None), None)
    if isinstance(first, UUID):
        return [None if v is None else str(v) for v in values]
    if isinstance(first, datetime):
        return [None if v is None else v.timestamp() for v in values]
    return list(values)


def _saved(task: Task) -> None:
    task._state.adding = False
    task._state.db = connection.alias
