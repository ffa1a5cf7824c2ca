"""The create-task form.

The create form only turns text into values; the checks are those of the REST
API (tasks/validation.py, through tasks.queue.build), so a bad field gets the
same sentence here as over HTTP. Field names are the API's.
"""

import json
from datetime import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from tasks import queue, validation
from tasks.handlers import registry
from tasks.models import Task

BASIC, ADVANCED = "basic", "advanced"
# Filled only on the Advanced tab; the Basic tab sends none of them.
ADVANCED_FIELDS = ("priority", "scheduled_for", "max_retries", "timeout", "webhook", "queue")
SCHEDULE_FORMAT = ("The time must be a date and time, for example 2030-01-01 09:00 (in {zone}), "
                   "2030-01-01T09:00+02:00 or 2030-01-01T07:00Z.")


def type_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in registry.exposed_names()]


class TaskForm(forms.Form):
    tab = forms.CharField(required=False, widget=forms.HiddenInput)
    type = forms.CharField(widget=forms.Select)
    payload = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 5}),
        help_text='JSON, such as {"to": "user@example.com", "subject": "Hi"}. '
                  "Plain text that is not JSON is taken as a string.",
    )
    priority = forms.CharField(required=False, initial="0", help_text="-100..100, higher runs first.",
                               widget=forms.NumberInput(attrs={"min": -100, "max": 100}))
    # Text, not datetime-local: a browser's date picker cannot take the time zone the help text offers.
    scheduled_for = forms.CharField(required=False, widget=forms.TextInput(
        attrs={"placeholder": "2030-01-01 09:00", "inputmode": "numeric", "autocomplete": "off"}))
    max_retries = forms.CharField(required=False, help_text="Empty uses the default.",
                                  widget=forms.NumberInput(attrs={"min": 0, "max": validation.MAX_RETRIES}))
    timeout = forms.CharField(required=False, help_text="Seconds; empty uses the default.",
                              widget=forms.NumberInput(attrs={"min": 0, "step": "any"}))
    webhook = forms.CharField(required=False, widget=forms.URLInput(attrs={"placeholder": "https://example.com/hook"}),
                              help_text="POSTed the task's JSON when it completes.")
    queue = forms.CharField(required=False, initial="default")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].widget.choices = type_choices()
        if self.is_bound and self.active_tab == BASIC:
            # The Basic tab's options are the defaults, whatever a request adds.
            self.data = self.data.copy()
            for name in ADVANCED_FIELDS:
                self.data.pop(name, None)
        zone = timezone.get_current_timezone_name()
        self.fields["scheduled_for"].help_text = (
            f"Empty runs now. In {zone} unless a zone is given: 2030-01-01 09:00, 2030-01-01T09:00+02:00 "
            "or 2030-01-01T07:00Z.")

    @property
    def active_tab(self) -> str:
        value = self.data.get("tab") if self.is_bound else self.initial.get("tab")
        return ADVANCED if value == ADVANCED else BASIC

    def clean_type(self):
        return _check(validation.type_error(self.cleaned_data["type"], exposed_only=True), self.cleaned_data["type"])

    def clean_payload(self):
        return parse_payload(self.cleaned_data["payload"])

    def clean_priority(self):
        return _number(self.cleaned_data["priority"], int, validation.priority_error, default=0)

    def clean_max_retries(self):
        return _number(self.cleaned_data["max_retries"], int, validation.max_retries_error, default=None)

    def clean_timeout(self):
        return _number(self.cleaned_data["timeout"], float, validation.timeout_error, default=None)

    def clean_queue(self):
        return self.cleaned_data["queue"].strip() or "default"

    def clean_scheduled_for(self):
        return parse_when(self.cleaned_data["scheduled_for"])

    def clean(self):
        """Every field's errors at once, as the API reports them: the checks of
        tasks.queue.build run even when some fields did not parse (those are
        given their defaults here, and keep their own error)."""
        data = self.cleaned_data
        try:
            task = queue.build(
                data.get("type", ""), data.get("payload"), queue=data.get("queue", "default"),
                priority=data.get("priority", 0), run_at=data.get("scheduled_for"),
                max_retries=data.get("max_retries"), timeout=data.get("timeout"),
                webhook=data.get("webhook", "").strip(),
            )
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                if field not in self.errors:  # a field that did not parse already says why
                    for message in messages:
                        self.add_error(field if field in self.fields else None, message)
        else:
            data["task"] = task
        return data

    def save(self) -> Task:
        return queue.insert(self.cleaned_data["task"])[0]


def parse_payload(text: str):
    """JSON when it parses; other plain text is a string; broken JSON is an error."""
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        if text[0] in '{["' or text in ("true", "false", "null"):
            raise ValidationError(f"The payload must be JSON: {exc}.") from None
        return text


def parse_when(text: str) -> datetime | None:
    """An ISO 8601 time; without a zone it is read in the current time zone (what
    a datetime-local input sends)."""
    text = text.strip()
    if not text:
        return None
    try:
        value = parse_datetime(text)
    except ValueError:
        value = None
    if value is None:
        raise ValidationError(SCHEDULE_FORMAT.format(zone=timezone.get_current_timezone_name()))
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _number(text: str, kind, error, *, default):
    text = text.strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = text  # let the shared check word the refusal
    return _check(error(value), value)


def _check(message, value):
    if message:
        raise ValidationError(message)
    return value
