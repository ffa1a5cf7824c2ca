"""Who may do what on the API: the scopes of tasks/access/, the same that the
dashboard and the admin ask.

A request's scopes are its API key's (request.auth), or, for a browser
session, its user's (scopes_of: staff, or the scope permissions held); a
signed-in user without any scope gets 403. The scope an endpoint needs
follows from what it does (`required_scope`):

- read: every GET (tasks, stats, workers, queues, dead letters, events);
- enqueue: creating tasks (POST /api/tasks, /api/tasks/bulk);
- operate: retry, cancel, pause, resume, purge, deleting or retrying dead letters;
- admin: changing settings (PATCH /api/queues/<name>: a queue's limits).

A view may say otherwise with a `required_scopes` dict: action (or HTTP
method, lower case) -> Scope.
"""

from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, PermissionDenied, Throttled
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from tasks.access import Scope, scopes_of
from tasks.api.authentication import failed

UNAUTHENTICATED = "Authentication is required: send 'Authorization: Token <key>'."
ENQUEUE_ACTIONS = {"create", "bulk"}
ADMIN_ACTIONS = {"update", "partial_update"}


def required_scope(request, view) -> Scope:
    """The scope the request's action needs."""
    action = getattr(view, "action", None)
    declared = getattr(view, "required_scopes", {})
    for name in (action, request.method.lower()):
        if name in declared:
            return declared[name]
    if request.method in SAFE_METHODS:
        return Scope.READ
    if action in ENQUEUE_ACTIONS:
        return Scope.ENQUEUE
    if action in ADMIN_ACTIONS:
        return Scope.ADMIN
    return Scope.OPERATE


def request_scopes(request) -> frozenset[Scope]:
    """The scopes of an API request: its key's, or its session user's."""
    credential = request.auth
    if credential is not None and hasattr(credential, "scopes"):
        return credential.scopes
    return scopes_of(request.user)


class HasScope(BasePermission):
    """Authenticated, and holding the scope that the action needs."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            # A request without credentials is a failed authentication too (401,
            # or 429 past the address's limit).
            error = failed(BaseThrottle().get_ident(request), "")
            if isinstance(error, Throttled):
                raise error
            return False
        needed = required_scope(request, view)
        if needed in request_scopes(request):
            return True
        self.message = f"This operation needs the {needed.value} scope: use an API key (or a user) that holds it."
        return False


# Kept for views written before scopes existed: the same rules.
StaffWrites = HasScope


def refusal(request, scope: Scope):
    """For plain Django views (the event stream): None when the request is
    authenticated and holds `scope`, else the DRF exception to answer with."""
    drf_request = Request(request, authenticators=[cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES])
    try:
        user = drf_request.user
    except (AuthenticationFailed, Throttled) as error:
        return error
    if user is None or not user.is_authenticated:
        error = failed(BaseThrottle().get_ident(request), "")
        return error if isinstance(error, Throttled) else NotAuthenticated(UNAUTHENTICATED)
    if scope not in request_scopes(drf_request):
        return PermissionDenied(f"This needs the {scope.value} scope: use an API key (or a user) that holds it.")
    return None
