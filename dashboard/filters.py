"""What a task list shows: its filters as a form, and the selection they make.

One Selection serves the list, its count and its bulk actions, so a bulk
action on "everything matching" changes exactly the rows the list shows. A
page ignores a bad filter value (the form shows it); a bulk action refuses it
(Selection.errors), so a destructive action never widens to everything because
one of its filters was dropped.
"""

from dataclasses import dataclass, field

from django import forms
from django.db.models import Q, QuerySet

from dashboard.forms import type_choices
from dashboard.listing import SORTS, Order
from tasks.models import Queue, Task, TaskStatus
from tasks.models.task_ids import matching_id
from tasks.telemetry import counters

FILTERS = ("q", "status", "type", "queue", "priority")


def queue_names() -> list[str]:
    """Every queue with tasks or settings, from the counters: no scan of the tasks."""
    return sorted(set(counters.counts()) | set(Queue.objects.values_list("name", flat=True)))


class TaskFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", max_length=200, widget=forms.SearchInput(
        attrs={"placeholder": "id, short id, id prefix, type, queue, error or payload text"}))
    status = forms.ChoiceField(required=False, choices=[("", "any status"), *TaskStatus.choices])
    # Any name filters (a type or queue may have tasks but no registry entry or
    # counter); the menus offer the known ones.
    type = forms.CharField(required=False, max_length=100, widget=forms.Select)
    queue = forms.CharField(required=False, max_length=100, widget=forms.Select)
    priority = forms.IntegerField(required=False, min_value=-100, max_value=100,
                                  widget=forms.NumberInput(attrs={"placeholder": "any"}))

    def __init__(self, *args, fixed_status: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        for name, known in (("type", [t for t, _ in type_choices()]), ("queue", queue_names())):
            given = self.data.get(name) if self.is_bound else None
            names = known if not given or given in known else [*known, given]
            self.fields[name].widget.choices = [("", f"any {name}"), *((n, n) for n in names)]
        if fixed_status:
            del self.fields["status"]
        self.fixed_status = fixed_status


@dataclass
class Selection:
    """The tasks a list's filters select: `walk` (what an index narrows) and
    `filters` (tested on the rows the walk visits)."""

    walk: QuerySet
    filters: Q
    status: str = ""
    queue: str = ""
    order: Order | None = None
    described: str = ""
    errors: dict = field(default_factory=dict)
    # A filter the counters do not count (type, priority, text): counts are then estimates.
    uncounted: bool = False

    @property
    def tasks(self) -> QuerySet:
        return self.walk.filter(self.filters)


def select(params, *, fixed_status: str = "") -> tuple[TaskFilterForm, Selection]:
    """The filter form over `params` and the selection its valid values make."""
    form = TaskFilterForm(params or None, fixed_status=fixed_status)
    form.is_valid()
    data = getattr(form, "cleaned_data", {})  # without the fields that are not valid
    status = fixed_status or data.get("status") or ""
    walk = Task.objects.filter(status=status) if status else Task.objects.all()
    filters, words = Q(), [f"status {status}"] if status and not fixed_status else []
    queue = data.get("queue") or ""
    for name in ("type", "queue", "priority"):
        value = data.get(name)
        if value not in (None, ""):
            filters &= Q(**{name: value})
            words.append(f"{name} {value}")
    text = (data.get("q") or "").strip()
    uncounted = data.get("type") not in (None, "") or data.get("priority") is not None
    if text:
        words.append(f"matching {text!r}")
        by_id = matching_id(text, min_prefix=4)
        if by_id is not None and walk.filter(by_id).exists():
            walk = walk.filter(by_id)  # primary-key lookups or a range: nothing to bound
        else:
            filters &= search(text)
        uncounted = True
    errors = {name: form.errors[name] for name in FILTERS if form.is_bound and name in form.errors}
    return form, Selection(
        walk=walk, filters=filters, status=status, queue=queue, order=Order.of(status, params.get("sort")),
        described=", ".join(words), errors=errors, uncounted=uncounted,
    )


def search(text: str) -> Q:
    """Text in the type or queue (exactly), the last error, the webhook URL or the payload's JSON."""
    return (Q(type=text) | Q(queue=text) | Q(last_error__icontains=text)
            | Q(webhook__icontains=text) | Q(payload__icontains=text))


def sorts(status: str) -> tuple[str, ...]:
    return SORTS.get(status or "", SORTS[""])
