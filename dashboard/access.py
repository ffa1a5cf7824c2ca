"""Who may see the dashboard and who may act on it: the scopes of tasks/access.py.

Every page needs `read`; each action needs the scope that covers it (ACTIONS
below), and the server refuses it with 403 whatever the page showed. Pages
read `request.can` (`request.can.operate`...) to offer only what the user may
do. The Django admin asks the same questions through `allows` (tasks/admin.py).

Anonymous visitors go to the login page; signed-in users without `read` get
403, rather than a login page that cannot help them. A live fragment whose
session expired asks htmx to load the login page as a whole page, instead of
swapping the login form into a corner of the dashboard.
"""

from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse

from tasks.access import Scope, scopes_of

# Which scope each kind of action needs; the one place that decides.
ACTIONS = {
    "task": Scope.OPERATE,  # retry, cancel, run now, delete a dead letter, bulk actions
    "worker": Scope.OPERATE,  # pause, resume
    "queue": Scope.OPERATE,  # pause, resume, purge
    "delivery": Scope.OPERATE,  # redeliver a webhook
    "create": Scope.ENQUEUE,
    "schedule": Scope.ADMIN,  # enable, disable, run now, edit
    "settings": Scope.ADMIN,  # queue limits, workers' rows
    "keys": Scope.ADMIN,  # see and revoke API keys
}


@dataclass(frozen=True)
class Can:
    """What the signed-in user may do, as templates ask it: `request.can.operate`."""

    read: bool = False
    enqueue: bool = False
    operate: bool = False
    admin: bool = False

    @classmethod
    def of(cls, user) -> "Can":
        return cls(**{scope.value: True for scope in scopes_of(user)})


def allows(user, kind: str) -> bool:
    """Whether `user` may perform actions of `kind` (a key of ACTIONS)."""
    return ACTIONS[kind] in scopes_of(user)


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def require(kind: str | None = None):
    """A view decorator: the page needs `read`, and `kind`'s scope when given."""

    def decorate(view):
        @wraps(view)
        def guarded(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                login = redirect_to_login(request.get_full_path())
                if is_htmx(request):
                    return HttpResponse(status=204, headers={"HX-Redirect": login.url})
                return login
            request.can = Can.of(user)
            if not request.can.read:
                raise PermissionDenied("The dashboard needs the read scope.")
            if kind is not None and not getattr(request.can, ACTIONS[kind].value):
                raise PermissionDenied(f"This action needs the {ACTIONS[kind].value} scope.")
            return view(request, *args, **kwargs)

        return guarded

    return decorate


reader = require()
