"""Who may see the dashboard: staff users only.

Anonymous visitors go to the login page; signed-in users who are not staff get
403, rather than a login page that cannot help them. A live fragment whose
session expired asks htmx to load the login page as a whole page, instead of
swapping the login form into a corner of the dashboard.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def staff_required(view):
    @wraps(view)
    def guarded(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            login = redirect_to_login(request.get_full_path())
            if is_htmx(request):
                return HttpResponse(status=204, headers={"HX-Redirect": login.url})
            return login
        if not (user.is_active and user.is_staff):
            raise PermissionDenied("The dashboard is for staff users.")
        return view(request, *args, **kwargs)

    return guarded
