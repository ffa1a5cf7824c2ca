"""Which queues are under flow control, and their limits: the queue's row, else
its entry in QUEUE_LIMITS (settings), read at most MAX_AGE seconds ago.

A worker claims from these queues with flow.py's statements and from every
other queue with the plain claim, so queues without limits pay nothing but
this small read once a second. A limit set through REST or the admin takes
effect within MAX_AGE.
"""

import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from tasks import conf

MAX_AGE = 1.0
DEFAULT_RATE_PERIOD = 60.0
FIELDS = ("max_running", "partition_by", "partition_max_running", "rate_limit", "rate_period", "ordered",
          "partition_rate_limit")

# The rows that set anything; settings fill in the fields a row leaves null.
_ROWS = """
SELECT name, max_running, partition_by, partition_max_running, rate_limit, rate_period, ordered,
       partition_rate_limit
FROM tasks_queue
WHERE max_running IS NOT NULL OR partition_max_running IS NOT NULL OR rate_limit IS NOT NULL
   OR partition_by <> '' OR ordered OR partition_rate_limit IS NOT NULL
"""
# Queues limited by settings alone get a row: the limited claim locks it.
_ENSURE = "INSERT INTO tasks_queue (name, paused, updated_at) SELECT unnest(%s::text[]), false, now() " \
          "ON CONFLICT (name) DO NOTHING"


@dataclass(frozen=True)
class QueueLimits:
    """One queue's limits; None (or 0 in the row) means no limit."""

    name: str
    max_running: int | None = None
    partition_by: str = ""
    partition_max_running: int | None = None
    rate_limit: int | None = None
    rate_period: float = DEFAULT_RATE_PERIOD
    ordered: bool = False
    partition_rate_limit: int | None = None  # per partition, per rate_period

    @property
    def active(self) -> bool:
        return bool(self.max_running or self.partition_max_running or self.rate_limit or self.ordered
                    or self.partition_rate_limit)

    @property
    def partition_path(self) -> list[str] | None:
        return self.partition_by.split(".") if self.partition_by else None


def merge(name: str, row: dict | None, configured: dict | None) -> QueueLimits:
    """The limits in force: each field from the row when set there, else from settings."""
    values = {}
    for field in FIELDS:
        value = (row or {}).get(field)
        if value is None or value == "" or value is False:
            value = (configured or {}).get(field, value)
        if value is not None:
            values[field] = value
    limits = QueueLimits(name, **values)
    return QueueLimits(
        name,
        max_running=limits.max_running or None,
        partition_by=limits.partition_by or "",
        partition_max_running=limits.partition_max_running or None,
        rate_limit=limits.rate_limit or None,
        rate_period=float(limits.rate_period or DEFAULT_RATE_PERIOD),
        ordered=bool(limits.ordered),
        partition_rate_limit=limits.partition_rate_limit or None,
    )


def configured() -> dict[str, dict]:
    """QUEUE_LIMITS, checked: ImproperlyConfigured names the queue and field at fault."""
    value = conf.get("LIMITS") or {}
    if not isinstance(value, dict):
        raise ImproperlyConfigured("QUEUE_LIMITS must be a JSON object of queue names to their limits.")
    for name, limits in value.items():
        if not isinstance(limits, dict):
            raise ImproperlyConfigured(f"QUEUE_LIMITS[{name!r}] must be an object such as {{\"max_running\": 5}}.")
        for field, item in limits.items():
            if field not in FIELDS:
                raise ImproperlyConfigured(f"QUEUE_LIMITS[{name!r}] has an unknown field {field!r}; "
                                           f"the fields are {', '.join(FIELDS)}.")
            kind = {"partition_by": str, "ordered": bool, "rate_period": (int, float)}.get(field, int)
            if not isinstance(item, kind) or (kind is int and (isinstance(item, bool) or item < 0)):
                raise ImproperlyConfigured(f"QUEUE_LIMITS[{name!r}][{field!r}] is {item!r}, which is not valid here.")
    return value


def load(cursor) -> dict[str, QueueLimits]:
    """Every queue under flow control, read now."""
    configured_limits = configured()
    cursor.execute(_ROWS)
    rows = {row[0]: dict(zip(FIELDS, row[1:])) for row in cursor.fetchall()}
    found = {name: merge(name, rows.get(name), configured_limits.get(name))
             for name in set(rows) | set(configured_limits)}
    active = {name: limits for name, limits in found.items() if limits.active}
    missing = [name for name in active if name not in rows and name in configured_limits]
    if missing:
        cursor.execute(_ENSURE, [missing])
    return active


class LimitsCache:
    """A worker's view of the limits, read again when older than MAX_AGE."""

    def __init__(self) -> None:
        self.read_at = float("-inf")
        self.limits: dict[str, QueueLimits] = {}

    def current(self, cursor) -> dict[str, QueueLimits]:
        now = time.monotonic()
        if now - self.read_at >= MAX_AGE:
            self.limits = load(cursor)
            self.read_at = now
        return self.limits

    def among(self, cursor, queues: Iterable[str] | None) -> dict[str, QueueLimits]:
        """The limited queues among `queues` (None: all queues)."""
        limits = self.current(cursor)
        if queues is None:
            return limits
        return {name: limits[name] for name in queues if name in limits}


def check_settings(app_configs=None, **kwargs) -> list:
    """A system check (manage.py check, and every command's start): QUEUE_LIMITS is well formed."""
    from django.core import checks

    try:
        configured()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="tasks.E018")]
    return []
