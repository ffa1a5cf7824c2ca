"""The API's most frequent reads, as statements prepared once per connection.

`Task.objects.get(pk=...)` compiles its SQL in Python on every call, several
times the cost of running it, and PostgreSQL plans it again each time; every
GET, retry and cancel of a task by id pays both. Here the same row is read
with a prepared statement and the instance built as the ORM builds it (each
field's database converter, then Model.from_db). Health's three figures come
from one statement too (the ORM would need two aggregates).
"""

import uuid

from django.db import connection

from tasks import conf
from tasks.db import raw_cursor
from tasks.models import Task, WorkerState

_fields = Task._meta.concrete_fields
_names = [field.attname for field in _fields]

# Every column of the task, in the model's order.
TASK_BY_ID = f"SELECT {', '.join(field.column for field in _fields)} FROM tasks_task WHERE id = %s"

# Workers alive (heartbeat within QUEUE_WORKER_TIMEOUT, not stopped), how many
# of them paused, and the newest heartbeat of any worker: /api/health's figures.
WORKERS = f"""
SELECT count(*) FILTER (WHERE alive), count(*) FILTER (WHERE alive AND state = '{WorkerState.PAUSED}'),
       max(last_heartbeat), current_setting('transaction_read_only') = 'off'
FROM (SELECT state, last_heartbeat,
             last_heartbeat >= %(now)s - make_interval(secs => %(timeout)s) AND state <> '{WorkerState.STOPPED}' AS alive
      FROM tasks_worker) w
"""


def task_by_id(pk) -> Task | None:
    """The task with id `pk` (a UUID or its text), or None, also for text that is no UUID."""
    try:
        pk = pk if isinstance(pk, uuid.UUID) else uuid.UUID(str(pk))
    except ValueError:
        return None
    with raw_cursor() as cursor:
        cursor.execute(TASK_BY_ID, [pk], prepare=conf.get("PREPARE"))
        row = cursor.fetchone()
    if row is None:
        return None
    values = [_convert(field, value) for field, value in zip(_fields, row, strict=True)]
    return Task.from_db(connection.alias, _names, values)


def worker_health(now) -> tuple[int, int, object, bool]:
    """(workers alive, of them paused, the newest heartbeat or None, whether this
    server takes writes: False on a standby) at `now`."""
    with raw_cursor() as cursor:
        cursor.execute(WORKERS, {"now": now, "timeout": float(conf.get("WORKER_TIMEOUT"))},
                       prepare=conf.get("PREPARE"))
        return cursor.fetchone()


def _convert(field, value):
    for converter in field.get_db_converters(connection):
        value = converter(value, field, connection)
    return value
