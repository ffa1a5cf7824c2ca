"""Who may do what: four scopes that every door (REST API, dashboard, admin) shares,
and the API keys that carry them (keys.py: issuing, listing, revoking).

- read: see tasks, statistics, workers, queues and events;
- enqueue: create tasks;
- operate: retry, cancel, pause, resume, purge, run now, dead letters;
- admin: workers' and queues' settings and limits, schedules, API keys.

Each scope is a Django permission on the task model (`tasks.queue_read`, ...),
so a group such as "Queue viewers" (read only) is an ordinary Django group.
A user's scopes are:
- every scope, for a superuser;
- the scopes whose permission the user holds (directly or through a group),
  when they hold any; the others imply read;
- every scope, for a staff user who holds none of them (the operator every
  deployment had before scopes existed);
- none otherwise.
"""

from django.db import models


class Scope(models.TextChoices):
    READ = "read", "Read tasks, statistics, workers, queues and events"
    ENQUEUE = "enqueue", "Create tasks"
    OPERATE = "operate", "Retry, cancel, pause, resume, purge and run tasks now"
    ADMIN = "admin", "Change workers', queues' and schedules' settings, and API keys"


# The Meta.permissions entries of the task model.
PERMISSIONS = [(f"queue_{scope.value}", scope.label) for scope in Scope]


def permission(scope: Scope) -> str:
    """The permission name that grants `scope`, as user.has_perm takes it."""
    return f"tasks.queue_{Scope(scope).value}"


def scopes_of(user) -> frozenset[Scope]:
    """The scopes of a Django user (see the module docstring)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return frozenset(Scope)
    held = {scope for scope in Scope if user.has_perm(permission(scope))}
    if held:
        return frozenset(held | {Scope.READ})
    return frozenset(Scope) if user.is_staff else frozenset()
