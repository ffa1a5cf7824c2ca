"""Filters and ordering of task lists, chosen so that each stays an index scan.

- status: the (status, id) index serves "one status, newest first".
- created_after / created_before: ids are UUIDv7, whose first 48 bits are the
  creation time in milliseconds, so a time range is also an id range, which
  the primary key (or the status index) seeks to directly. The exact
  created_at test is kept; the id bound is widened by CREATED_AT_SKEW, the
  most that created_at and the id's time may differ by.
- search: a whole id is a primary-key lookup; 8 or more hex digits (dashes
  allowed) are the start of an id, an id range; any other text is looked for
  in the payload's JSON text. PostgreSQL guesses such matches rare and would
  read the whole table then sort; OrderedSearch keeps it on the id order
  instead, which stops once a page is full: fast when matches are common and
  recent, about one pass over the (filtered) table when they are not (about
  1 s at a million rows; see docs/api-performance.md). Narrow it with filters.
- type, queue, priority: tested on the rows the scan above visits.

FilterBackend builds the filter set only when a request names a filter.
"""

import json
import uuid
from datetime import UTC, timedelta

from django import forms
from django.db import connection, transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django_filters import rest_framework as filters
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend

from tasks.models import TaskStatus, WorkerState
from tasks.models.task_ids import id_prefix_range, uuid7_floor

CREATED_AT_SKEW = timedelta(minutes=1)


class IntegerFilter(filters.NumberFilter):
    field_class = forms.IntegerField


class StrictFilterSet(filters.FilterSet):
    """A parameter that is present must hold a value: `?status=` or `?alive=maybe`
    is a mistake to report, not a filter to drop silently (free text excepted)."""

    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name, filter_ in self.filters.items():
            if isinstance(filter_, filters.CharFilter) or name not in self.data or name in self.form.errors:
                continue
            if self.form.cleaned_data.get(name) in (None, ""):
                self.form.add_error(name, "Give a value, or leave the parameter out.")
        return valid and not self.form.errors


class TaskFilter(StrictFilterSet):
    status = filters.ChoiceFilter(choices=TaskStatus.choices)
    type = filters.CharFilter(help_text="Task type, exactly.")
    queue = filters.CharFilter(help_text="Queue name, exactly.")
    priority_min = IntegerFilter(field_name="priority", lookup_expr="gte", help_text="Priority at least this.")
    priority_max = IntegerFilter(field_name="priority", lookup_expr="lte", help_text="Priority at most this.")
    created_after = filters.IsoDateTimeFilter(method="filter_created", help_text="Created at or after (ISO 8601).")
    created_before = filters.IsoDateTimeFilter(method="filter_created", help_text="Created before (ISO 8601).")
    search = filters.CharFilter(method="filter_search", max_length=200,
                                help_text="A task id, the start of one (8+ hex digits), or text in the payload.")
    metadata = filters.CharFilter(method="filter_metadata", max_length=2000,
                                  help_text='Tasks whose metadata contains this JSON object, e.g. {"user_id": "123"}.')

    def filter_created(self, queryset, name, value):
        try:
            # In UTC: PostgreSQL refuses offsets beyond 15:59 that Python accepts.
            value = value.astimezone(UTC)
            if name == "created_after":
                return queryset.filter(created_at__gte=value, id__gte=uuid7_floor(value - CREATED_AT_SKEW))
            return queryset.filter(created_at__lt=value, id__lt=uuid7_floor(value + CREATED_AT_SKEW))
        except OverflowError:
            raise ValidationError({name: ["The time is out of range: use a year from 1 to 9999."]}) from None

    def filter_metadata(self, queryset, name, value):
        try:
            wanted = json.loads(value)
        except ValueError:
            wanted = None
        if not isinstance(wanted, dict) or not wanted:
            raise ValidationError({name: ['Give a JSON object, for example {"user_id": "123"}.']})
        return queryset.filter(metadata__contains=wanted)  # served by task_metadata_idx

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        try:
            return queryset.filter(id=uuid.UUID(value))
        except ValueError:
            pass
        if (ids := id_prefix_range(value)) is not None:
            return queryset.filter(ids)
        return queryset.alias(payload_text=Cast("payload", TextField())).filter(payload_text__icontains=value)


def is_payload_search(request) -> bool:
    value = request.query_params.get("search", "").strip()
    if not value or id_prefix_range(value) is not None:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return True
    return False


class OrderedSearch:
    """For list views: run a payload text search on the index order, newest
    first, so that it stops at a full page (the planner would sort instead)."""

    def list(self, request, *args, **kwargs):
        if not is_payload_search(request):
            return super().list(request, *args, **kwargs)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_sort = off")  # for this transaction only
            return super().list(request, *args, **kwargs)


class DeadLetterFilter(TaskFilter):
    """The task filters, within failed tasks."""

    status = None


class WorkerFilter(StrictFilterSet):
    state = filters.ChoiceFilter(choices=WorkerState.choices)
    alive = filters.BooleanFilter(method="filter_alive", help_text="Heartbeating and not stopped.")

    def filter_alive(self, queryset, name, value):
        alive = queryset.alive()
        return alive if value else queryset.exclude(pk__in=alive.values("pk"))


# Accepted by every view: DRF's format override (?format=json).
ALWAYS_KNOWN = frozenset({"format"})
UNKNOWN = "Unknown query parameter: this endpoint accepts {}."


def known_parameters(view, filterset_class=None) -> frozenset[str]:
    """The query parameters `view` understands: its filters, its paginator's,
    the ordering, and whatever it declares in `extra_parameters`."""
    names = set(ALWAYS_KNOWN) | set(getattr(view, "extra_parameters", ()))
    if filterset_class is not None:
        names |= filterset_class.base_filters.keys()
    if view.request.method == "GET" and (paginator := getattr(view, "paginator", None)) is not None:
        names |= {getattr(paginator, "cursor_query_param", None), getattr(paginator, "page_size_query_param", None)}
    if CreationOrder in getattr(view, "filter_backends", ()):
        names.add(CreationOrder.param)
    return frozenset(names - {None})


def refuse_unknown_parameters(request, known: frozenset[str]) -> None:
    """400 naming each query parameter not in `known`: a typo in a filter
    (?queu=dq) must not widen a list, let alone a bulk delete, to everything."""
    if unknown := sorted(set(request.query_params) - known):
        words = ", ".join(sorted(known - ALWAYS_KNOWN)) or "none"
        raise ValidationError({name: [UNKNOWN.format(words)] for name in unknown})


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, which builds a filter set and its form on every
    request (more work than the page's statement), skipped when the request
    names none of the view's filters: then there is nothing to filter or check.
    A parameter the view does not know is refused first."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if request.query_params:
            refuse_unknown_parameters(request, known_parameters(view, filterset_class))
        if filterset_class is not None and filterset_class.base_filters.keys().isdisjoint(request.query_params):
            return queryset
        return super().filter_queryset(request, queryset, view)


class CreationOrder(BaseFilterBackend):
    """?ordering=-created_at (newest first, the default) or created_at. Both
    are the id order (UUIDv7), which every list's index already provides;
    orders that would sort a whole table are deliberately not offered."""

    param = "ordering"
    choices = {"-created_at": ("-id",), "created_at": ("id",)}

    def get_ordering(self, request, queryset, view) -> tuple[str, ...]:
        value = request.query_params.get(self.param, "-created_at")
        if value not in self.choices:
            raise ValidationError({self.param: [f"Use one of: {', '.join(self.choices)}."]})
        return self.choices[value]

    def filter_queryset(self, request, queryset, view):
        return queryset.order_by(*self.get_ordering(request, queryset, view))

    def get_schema_operation_parameters(self, view):
        return [{
            "name": self.param, "required": False, "in": "query",
            "description": "Creation order: newest first (default) or oldest first.",
            "schema": {"type": "string", "enum": list(self.choices), "default": "-created_at"},
        }]

