"""Keyset pagination over task ids, so that page 20,000 costs what page 1 costs.

Task ids are time-ordered UUIDs, so "newest first" is `ORDER BY id DESC`, an
index scan on the primary key (or on (status, id) when filtered by status).
A page remembers the ids at its edges: "older" asks for ids below the last
one, "newer" for ids above the first. No OFFSET (which reads and throws away
every skipped row) and no COUNT(*) (which reads the whole table).
"""

from dataclasses import dataclass
from uuid import UUID

from django.db.models import QuerySet
from django.http import QueryDict

PAGE_SIZE = 50


@dataclass
class Page:
    rows: list
    newer: str | None  # query string of the newer page, or None on the newest
    older: str | None  # query string of the older page, or None on the oldest
    newest: str  # query string of the first page, same filters

    @property
    def first(self) -> bool:
        return self.newer is None


def paginate(queryset: QuerySet, params: QueryDict, size: int = PAGE_SIZE) -> Page:
    """One page of `queryset` by id, newest first, from the `after`/`before` parameters."""
    after, before = _uuid(params.get("after")), _uuid(params.get("before"))
    if before is not None:
        # Walk up from `before`, then show the rows newest first.
        rows = list(queryset.filter(id__gt=before).order_by("id")[: size + 1])
        has_newer, rows = len(rows) > size, rows[:size][::-1]
        has_older = True
    else:
        if after is not None:
            queryset = queryset.filter(id__lt=after)
        rows = list(queryset.order_by("-id")[: size + 1])
        has_older, rows = len(rows) > size, rows[:size]
        has_newer = after is not None
    return Page(
        rows=rows,
        newer=_link(params, "before", rows[0].id) if has_newer and rows else None,
        older=_link(params, "after", rows[-1].id) if has_older and rows else None,
        newest=_link(params),
    )


def _link(params: QueryDict, key: str | None = None, value=None) -> str:
    query = params.copy()
    query.pop("after", None)
    query.pop("before", None)
    if key:
        query[key] = str(value)
    return query.urlencode()


def _uuid(value) -> UUID | None:
    try:
        return UUID(value) if value else None
    except ValueError:
        return None
