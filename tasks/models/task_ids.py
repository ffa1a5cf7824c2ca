"""Task ids as people read and type them: short ids, id prefixes, times as id bounds.

Task ids are UUIDv7: `TTTTTTTT-TTTT-7RRR-VRRR-RRRRRRRRRRRR`, the first 48 bits
(12 hex digits, T) the creation time in milliseconds, the rest random. So:

- a time is an id bound (`uuid7_floor`), and a time range an id range that the
  primary key seeks to;
- an id prefix is an id range too (`id_prefix_range`);
- the short id printed on every row is digits 7 to 12 of the id (the creation
  millisecond, modulo 2**24 ms, about 4.7 hours) followed by its last two
  digits (random): a subsequence of the full id. Ids made by one process get
  distinct milliseconds (uuid6 moves the clock on by a millisecond rather than
  repeat one), and the two random digits tell apart most ids that other
  processes made in the same millisecond, so rows rarely share a short id.
  Because six of its digits are time, finding a short id costs one probe of
  the primary key per 4.7-hour cycle the table spans (36 a week) instead of a
  scan of every id, which is what a random short id would need (5 s at
  10 million tasks), or an index on an expression, which every insert and
  status change of every task would pay for.
"""

import re
import uuid
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Q

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# An id prefix long enough to be meant as one (ids in logs are shortened to 8+ digits).
HEX_PREFIX = re.compile(r"^[0-9a-f]{4,32}$")
SHORT_ID = re.compile(r"^[0-9a-f]{8}$")
CYCLE_BITS = 24  # the short id's six time digits

# One probe of the primary key per cycle between the oldest and the newest id:
# the id range of the millisecond `cycle * 2**24 + offset`, then the two random
# digits. LATERAL with a LIMIT, so that each probe is an index range scan
# (given the ranges as a join, the planner may scan the table instead).
SHORT_ID_PROBES = """
SELECT t.id
FROM unnest(%(lows)s::uuid[], %(highs)s::uuid[]) AS r(low, high)
CROSS JOIN LATERAL (
    SELECT id FROM tasks_task
    WHERE id >= r.low AND id <= r.high AND right(id::text, 2) = %(tail)s
    LIMIT 100
) t
"""
# Both ends of the primary key (PostgreSQL 16 has no min() for uuid).
ID_ENDS = """
SELECT (SELECT id FROM tasks_task ORDER BY id LIMIT 1), (SELECT id FROM tasks_task ORDER BY id DESC LIMIT 1)
"""


def short_id(value) -> str:
    """The eight-digit short id of a task id (see the module docstring)."""
    text = str(value)
    if len(text) != 36:
        return text[-8:]
    return text[6:8] + text[9:13] + text[-2:]


def uuid7_floor(moment: datetime) -> uuid.UUID:
    """The smallest UUIDv7 of `moment`'s millisecond (and so below every id made at or after it)."""
    millis = max(0, int((moment - EPOCH) / timedelta(milliseconds=1)))
    return uuid.UUID(int=min(millis, 2**48 - 1) << 80)


def id_time(value: uuid.UUID) -> datetime:
    """The creation time a UUIDv7 carries."""
    return EPOCH + timedelta(milliseconds=value.int >> 80)


def id_prefix_range(text: str, *, min_digits: int = 8) -> Q | None:
    """Ids that start with the hex digits of `text` (dashes ignored), as a range."""
    digits = text.replace("-", "").lower()
    if len(digits) < min_digits or not HEX_PREFIX.match(digits):
        return None
    low = uuid.UUID(digits.ljust(32, "0"))
    high = uuid.UUID(digits.ljust(32, "f"))
    return Q(id__gte=low, id__lte=high)


def with_short_id(text: str) -> list[uuid.UUID]:
    """The ids whose short id is `text` (eight hex digits), oldest first."""
    text = text.strip().lower()
    if not SHORT_ID.match(text):
        return []
    with connection.cursor() as cursor:
        cursor.execute(ID_ENDS)
        oldest, newest = cursor.fetchone()
        if oldest is None:
            return []
        size, offset = 2**CYCLE_BITS, int(text[:6], 16)
        millis = [cycle * size + offset for cycle in range((oldest.int >> 80) // size, (newest.int >> 80) // size + 1)]
        cursor.execute(SHORT_ID_PROBES, {"lows": [uuid.UUID(int=ms << 80) for ms in millis],
                                         "highs": [uuid.UUID(int=(ms << 80) | (2**80 - 1)) for ms in millis],
                                         "tail": text[6:]})
        return [row[0] for row in cursor.fetchall()]


def matching_id(text: str, *, min_prefix: int = 8) -> Q | None:
    """Tasks that `text` names by id: a whole id, a short id or an id prefix
    (at least `min_prefix` digits); None when `text` cannot be an id."""
    text = text.strip()
    try:
        return Q(id=uuid.UUID(text))
    except ValueError:
        pass
    prefix = id_prefix_range(text, min_digits=min_prefix)
    short = with_short_id(text)
    if prefix is None and not SHORT_ID.match(text.lower()):
        return None
    found = Q(id__in=short) if short else Q(pk__in=[])
    return found | prefix if prefix is not None else found
