"""Task lists at any size: state-aware order, keyset pages, a bounded walk, a cheap count.

- Order. Each status offers the orders an index serves (SORTS): scheduled
  tasks by run time (task_scheduled_run_idx), dead letters by failure time
  (task_failed_idx), running tasks by start (few rows), and every list by
  creation, which is the id order (UUIDv7). An order that would sort millions
  of rows is not offered.
- Keyset pages. A page remembers the (key, id) at its edges: "older" asks for
  the rows after the last one, "newer" for those before the first. No OFFSET,
  so page 20,000 costs what page 1 costs.
- A bounded walk. Status is the only filter an index narrows; queue, type,
  priority and text are tested on the rows the walk visits. When one of them
  is rare, the walk would read the whole table to fill a page, so a page reads
  at most SCAN_BUDGET rows of the walk, and says how far it got; "older" goes on
  from there.
- The count. Status and queue filters are counted exactly by the
  trigger-maintained counters; other filters get PostgreSQL's estimate (EXPLAIN),
  marked as such, unless every match is on the page.
"""

import json
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils.dateparse import parse_datetime

from tasks.models.task_ids import id_time
from tasks.telemetry import counters

PAGE_SIZE = 50
# Rows of the walk a page reads at most: about 40 ms of text matching on this machine.
SCAN_BUDGET = 20_000

# Sort names offered on each status's list: the column's model field. "created" is the id.
FIELDS = {"created": "id", "runs": "run_at", "running": "started_at", "failed": "completed_at"}
SORTS = {
    "": ("-created", "created"),
    "waiting": ("-created", "created"),
    "scheduled": ("runs", "-runs", "-created", "created"),
    "pending": ("-created", "created"),
    "processing": ("running", "-running", "-created", "created"),
    "completed": ("-created", "created"),
    "failed": ("-failed", "failed", "-created", "created"),
    "cancelled": ("-created", "created"),
}


# The header of the task table's state column, on each status's list.
STATE_LABELS = {"waiting": "Waiting",
                "scheduled": "Runs", "pending": "Waiting", "processing": "Running for", "completed": "Took",
                "failed": "Failed", "cancelled": "Cancelled"}


@dataclass(frozen=True)
class Order:
    name: str  # e.g. "-failed": failure time, newest first
    field: str
    descending: bool

    @classmethod
    def of(cls, status: str, wanted: str | None) -> "Order":
        """The order `wanted` if `status`'s list offers it, else that list's default."""
        offered = SORTS.get(status or "", SORTS[""])
        name = wanted if wanted in offered else offered[0]
        return cls(name, FIELDS[name.lstrip("-")], name.startswith("-"))

    def keys(self, reverse: bool = False) -> tuple[str, ...]:
        down = self.descending != reverse
        fields = ("id",) if self.field == "id" else (self.field, "id")
        return tuple(f"-{f}" if down else f for f in fields)

    def beyond(self, edge: tuple, reverse: bool = False, inclusive: bool = False) -> Q:
        """Rows after `edge` ((value, id), or (id,)) in this order (before it with `reverse`)."""
        down = self.descending != reverse
        op = ("lte" if inclusive else "lt") if down else ("gte" if inclusive else "gt")
        if self.field == "id":
            return Q(**{f"id__{op}": edge[-1]})
        value, id = edge
        seek = "lte" if down else "gte"  # the index range PostgreSQL can seek to
        return Q(**{f"{self.field}__{seek}": value}) & (
            Q(**{f"{self.field}__{'lt' if down else 'gt'}": value}) | Q(**{self.field: value, f"id__{op}": id}))

    def edge(self, row) -> tuple:
        return (row.id,) if self.field == "id" else (getattr(row, self.field), row.id)

    def encode(self, edge: tuple) -> str:
        return "_".join(v.isoformat() if isinstance(v, datetime) else str(v) for v in edge)

    def decode(self, text: str | None) -> tuple | None:
        """The edge a page link carries; None when absent or not one of ours."""
        if not text:
            return None
        try:
            if self.field == "id":
                return (UUID(text),)
            value, id = text.rsplit("_", 1)
            moment = parse_datetime(value)
            return (moment, UUID(id)) if moment else None
        except ValueError:
            return None


@dataclass
class Page:
    rows: list
    order: Order
    newer: str | None  # query string of the newer page, or None on the first
    older: str | None  # query string of the older page, or None on the last
    newest: str  # query string of the first page, same filters
    stopped_at: datetime | None = None  # how far back the walk read, when it stopped at its budget

    @property
    def first(self) -> bool:
        return self.newer is None


def paginate(walk: QuerySet, filters: Q, order: Order, params: QueryDict, size: int | None = None) -> Page:
    """One page of `walk.filter(filters)` in `order`, from the `after`/`before` parameters.

    `walk` holds what an index narrows (the status), `filters` the rest; when
    `filters` is not empty, a page reads at most SCAN_BUDGET rows of `walk`."""
    with one_process():
        return _paginate(walk, filters, order, params, size or PAGE_SIZE)


@contextmanager
def one_process():
    """A page reads a bounded slice of an index: PostgreSQL's parallel workers take
    longer to start (tens of ms on a busy machine) than they could save."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        yield


def _paginate(walk: QuerySet, filters: Q, order: Order, params: QueryDict, size: int) -> Page:
    after, before = order.decode(params.get("after")), order.decode(params.get("before"))
    reverse = before is not None and after is None
    start = before if reverse else after
    if start is not None:
        walk = walk.filter(order.beyond(start, reverse))
    bound = _budget_edge(walk, order, reverse) if filters else None
    rows_query = walk.filter(filters)
    if bound is not None:  # up to the bound and no further: "beyond" it the other way round
        rows_query = rows_query.filter(order.beyond(bound, not reverse, inclusive=True))
    rows = list(rows_query.order_by(*order.keys(reverse))[: size + 1])
    more, rows = len(rows) > size, rows[:size]
    cut = bound is not None and not more  # the walk stopped at its budget before the page filled
    far = bound if cut else (order.edge(rows[-1]) if rows else None)  # where the next page starts
    near = order.edge(rows[0]) if rows else None
    onward = far if more or cut else None
    if reverse:
        rows.reverse()
        newer, older = onward, near
    else:
        newer, older = (near if start is not None else None), onward
    return Page(
        rows=rows, order=order,
        newer=_link(params, "before", order.encode(newer)) if newer else None,
        older=_link(params, "after", order.encode(older)) if older else None,
        newest=_link(params),
        stopped_at=(id_time(bound[0]) if order.field == "id" else bound[0]) if cut else None,
    )


def _budget_edge(walk: QuerySet, order: Order, reverse: bool) -> tuple | None:
    """The SCAN_BUDGET-th row of the walk (an index-only scan), or None if it is shorter."""
    fields = ("id",) if order.field == "id" else (order.field, "id")
    found = list(walk.order_by(*order.keys(reverse)).values_list(*fields)[SCAN_BUDGET - 1: SCAN_BUDGET])
    return tuple(found[0]) if found else None


def _link(params: QueryDict, key: str | None = None, value: str | None = None) -> str:
    query = params.copy()
    query.pop("after", None)
    query.pop("before", None)
    if key:
        query[key] = value
    return query.urlencode()


@dataclass(frozen=True)
class Count:
    value: int
    exact: bool


def count(tasks: QuerySet, *, status: str = "", queue: str = "", uncounted: bool = False,
          page: Page | None = None) -> Count:
    """How many tasks match: exact from the counters for status and queue,
    exact when the first page holds them all, else PostgreSQL's estimate."""
    if not uncounted:
        return Count(counted({status} if status else None, queue), True)
    if page is not None and page.first and page.older is None:
        return Count(len(page.rows), True)
    return Count(estimate(tasks), False)


def counted(statuses: set[str] | None, queue: str = "") -> int:
    """Tasks in `statuses` (None: any) of `queue` (empty: any), from the counters: exact and free."""
    by_queue = counters.counts()
    queues = [by_queue.get(queue, {})] if queue else by_queue.values()
    return sum(n for counts in queues for status, n in counts.items() if statuses is None or status in statuses)


def estimate(tasks: QuerySet) -> int:
    """PostgreSQL's estimate of the rows of `tasks`, from its statistics: free at any size."""
    plan = json.loads(tasks.order_by().values("id").explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


# The column each sort name belongs to, as the task table labels its headers.
COLUMNS = {"created": "created", "runs": "state", "running": "state", "failed": "state"}


def sort_links(params: QueryDict, order: Order, status: str) -> dict[str, dict]:
    """For each sortable column of `status`'s list: the query string that sorts
    by it (the other way round when it is the current order) and the current arrow."""
    links = {}
    for name in SORTS.get(status, SORTS[""]):
        key = name.lstrip("-")
        column = COLUMNS[key]
        if column in links:
            continue
        current = order.name.lstrip("-") == key
        wanted = ("" if order.descending else "-") + key if current else name
        query = params.copy()
        for param in ("after", "before", "sort"):
            query.pop(param, None)
        query["sort"] = wanted
        links[column] = {"query": query.urlencode(), "arrow": ("↓" if order.descending else "↑") if current else ""}
    return links
