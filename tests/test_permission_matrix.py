"""The permission matrix: every URL pattern of the project, every method it
serves, against every kind of caller, with the outcome each must get.

ROUTES below is the one table of what each endpoint needs. The resolver is
walked, so a new URL pattern (or a new method on a DRF view) without an entry
fails `test_every_route_has_an_entry`. An outcome is one of:

- ALLOWED: anything but a refusal (200, 201, 404 for the made-up ids, 409...);
- 401: the API's answer to no (or a bad) credential;
- 403: authenticated, without the scope;
- LOGIN: a redirect to the login page (the dashboard and the admin for
  visitors without a session).
"""

import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from tasks.access import Scope
from tasks.models import ApiKey

pytestmark = pytest.mark.django_db

PUBLIC = "public"  # no credential needed
DOCS = "docs"  # public, but a key that is sent must be good (DRF authenticates it)
SITE = "site"  # the Django admin: staff sessions
R, E, O, A = Scope.READ, Scope.ENQUEUE, Scope.OPERATE, Scope.ADMIN
ALLOWED, LOGIN = "allowed", "login"

# route (as the resolver spells it) -> {method: what it needs}
ROUTES = {
    "": {"get": PUBLIC},  # a redirect to the dashboard
    "favicon.ico": {"get": PUBLIC},
    "metrics": {"get": PUBLIC},  # Prometheus; QUEUE_METRICS_TOKEN closes it (test_metrics)
    "api/schema": {"get": DOCS},
    "api/docs": {"get": DOCS},
    "api/^health/?$": {"get": PUBLIC},
    "^health/?$": {"get": PUBLIC},
    "api/^stats/?$": {"get": R},
    "^stats/?$": {"get": R},
    "api/^events/?$": {"get": R},
    "api/^tasks/?$": {"get": R, "post": E},
    "^tasks/?$": {"get": R, "post": E},
    "api/^tasks/bulk/?$": {"post": E},
    "api/^tasks/(?P<pk>[^/.]+)/?$": {"get": R, "delete": O},
    "^tasks/(?P<pk>[^/.]+)/?$": {"get": R, "delete": O},
    "api/^tasks/(?P<pk>[^/.]+)/details/?$": {"get": R},
    "api/^tasks/(?P<pk>[^/.]+)/cancel/?$": {"post": O},
    "api/^tasks/(?P<pk>[^/.]+)/retry/?$": {"post": O},
    "api/^workers/?$": {"get": R},
    "api/^workers/(?P<pk>[^/.]+)/?$": {"get": R},
    "api/^workers/(?P<pk>[^/.]+)/pause/?$": {"post": O},
    "api/^workers/(?P<pk>[^/.]+)/resume/?$": {"post": O},
    "api/^queues/?$": {"get": R},
    "api/^queues/(?P<name>[^/]+)/?$": {"get": R, "patch": A, "put": A},  # PUT declares a queue
    "api/^queues/(?P<name>[^/]+)/pause/?$": {"post": O},
    "api/^queues/(?P<name>[^/]+)/resume/?$": {"post": O},
    "api/^queues/(?P<name>[^/]+)/purge/?$": {"post": O},
    # The reference documents' paths (tasks/api/compat_urls.py): the same scopes as their twins.
    "api/^tasks/(?=status/|all/?$|stats/?$)^status/(?P<pk>[^/.]+)/?$": {"get": R},
    "api/^tasks/(?=status/|all/?$|stats/?$)^all/?$": {"get": R},
    "api/^tasks/(?=status/|all/?$|stats/?$)^stats/?$": {"get": R},
    "api/^v1/^tasks/?$": {"get": R, "post": E},
    "api/^v1/^tasks/(?P<pk>[^/.]+)/?$": {"get": R, "delete": O},
    "api/^queue/^email/?$": {"post": E},
    "api/^queue/^email/delayed/?$": {"post": E},
    "api/^queue/^image/?$": {"post": E},
    "api/^queue/^stats/?$": {"get": R},
    "admin/^health/?$": {"get": PUBLIC},
    "admin/^workers/?$": {"get": R},
    "admin/^workers/(?P<pk>[^/.]+)/?$": {"get": R},
    "admin/^workers/(?P<pk>[^/.]+)/pause/?$": {"post": O},
    "admin/^workers/(?P<pk>[^/.]+)/resume/?$": {"post": O},
    "admin/^queues/?$": {"get": R},
    "admin/^queues/(?P<priority>[^/.]+)/?$": {"delete": O},
    "admin/^tasks/(?P<pk>[0-9a-fA-F-]{32,36})/retry/?$": {"post": O},
    "admin/^dlq/?$": {"get": R, "delete": O},
    "admin/^dlq/retry/?$": {"post": O},
    "api/^dead-letters/?$": {"get": R, "delete": O},
    "api/^dead-letters/retry/?$": {"post": O},
    "api/^workflows/?$": {"get": R, "post": E},
    "api/^workflows/(?P<pk>[^/.]+)/?$": {"get": R},
    "api/^workflows/(?P<pk>[^/.]+)/cancel/?$": {"post": O},
    "api/^batches/?$": {"get": R, "post": E},
    "api/^batches/(?P<pk>[^/.]+)/?$": {"get": R},
    "api/^batches/(?P<pk>[^/.]+)/tasks/?$": {"post": E},  # a producer adds tasks ...
    "api/^batches/(?P<pk>[^/.]+)/close/?$": {"post": E},  # ... and closes the batch
    "api/^batches/(?P<pk>[^/.]+)/cancel/?$": {"post": O},
    "dashboard/": {"get": R},
    "dashboard/tasks/": {"get": R},
    "dashboard/tasks/new/": {"get": E, "post": E},
    "dashboard/tasks/bulk/": {"post": O},
    "dashboard/tasks/<uuid:pk>/": {"get": R},
    "dashboard/tasks/<uuid:pk>/retry/": {"post": O},
    "dashboard/tasks/<uuid:pk>/cancel/": {"post": O},
    "dashboard/tasks/<uuid:pk>/run-now/": {"post": O},
    "dashboard/tasks/<uuid:pk>/delete/": {"post": O},
    "dashboard/tasks/<uuid:pk>/deliveries/<int:delivery>/redeliver/": {"post": O},
    "dashboard/workers/": {"get": R},
    "dashboard/workers/<uuid:pk>/pause/": {"post": O},
    "dashboard/workers/<uuid:pk>/resume/": {"post": O},
    "dashboard/queues/": {"get": R},
    "dashboard/queues/<str:queue_name>/pause/": {"post": O},
    "dashboard/queues/<str:queue_name>/resume/": {"post": O},
    "dashboard/queues/<str:queue_name>/purge/": {"post": O},
    "dashboard/queues/<str:queue_name>/limits/": {"post": A},
    "dashboard/dead-letters/": {"get": R},
    "dashboard/schedules/": {"get": R},
    "dashboard/schedules/<int:pk>/<slug:action>": {"post": A},
    "dashboard/metrics/": {"get": R},
    "dashboard/audit/": {"get": R},
    "dashboard/workflows/": {"get": R},
    "dashboard/workflows/<uuid:pk>/": {"get": R},
    "dashboard/workflows/<uuid:pk>/cancel/": {"post": O},
    "dashboard/batches/<uuid:pk>/": {"get": R},
    "dashboard/batches/<uuid:pk>/cancel/": {"post": O},
    "dashboard/keys/": {"get": A},
    "dashboard/keys/<str:prefix>/revoke/": {"post": A},
}

CALLERS = ["anonymous", "plain session", *(f"{s} session" for s in Scope), "staff session",
           *(f"{s} key" for s in Scope), "revoked key", "expired key"]


def routes(site: bool = False) -> dict[str, list[str]]:
    """Every URL pattern: route -> the methods its view serves (None when a plain view does not say);
    the Django admin site's own (namespace "admin") when `site`, every other otherwise."""
    found = {}

    def walk(patterns, base, in_site=False):
        for entry in patterns:
            text = base + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, text, in_site or entry.namespace == "admin")
            elif in_site != site:
                continue
            elif isinstance(entry, URLPattern):
                callback = entry.callback
                actions, cls = getattr(callback, "actions", None), getattr(callback, "cls", None)
                if actions:
                    found[text] = sorted(set(actions) - {"head"})  # DRF adds head on the first GET
                elif cls is not None:
                    found[text] = sorted(m for m in cls.http_method_names if hasattr(cls, m) and m not in ("options", "head"))
                else:
                    found[text] = None

    walk(get_resolver().url_patterns, "")
    return found


def concrete(route: str) -> str:
    if route == "api/^events/?$":
        return "/api/events?event=none"  # allowed callers get a 400, not an endless stream
    path = re.sub(r"\(\?=[^)]*\)", "", route)  # a lookahead that guards an include
    path = re.sub(r"<int:\w+>|\(\?P<priority>[^)]*\)", "1", path)
    path = re.sub(r"<slug:\w+>", "enable", path)
    path = re.sub(r"<str:\w+>|\(\?P<name>[^)]*\)", "mq", path)
    path = re.sub(r"<uuid:\w+>|\(\?P<pk>[^)]*\)(\{[^}]*\})?", str(uuid.uuid4()), path)
    return "/" + path.replace("^", "").replace("$", "").replace("/?", "").replace("\\", "")


def expected(route: str, need, caller: str) -> str:
    if need == PUBLIC:
        return ALLOWED
    if need == DOCS:
        return 401 if caller in ("revoked key", "expired key") else ALLOWED
    api = not route.startswith("dashboard/")
    kind, _, rest = caller.partition(" ")
    if need == SITE:  # Django's admin: staff sessions only, the others are sent to its login page
        return ALLOWED if caller == "staff session" else LOGIN
    if caller == "anonymous" or (rest == "key" and not api):  # keys do not open the dashboard
        return 401 if api else LOGIN
    if kind in ("revoked", "expired"):
        return 401
    if caller == "staff session":
        return ALLOWED
    scopes = {Scope(kind), Scope.READ} if rest == "session" and kind in Scope.values else set()
    if rest == "key" and kind in Scope.values:
        scopes = {Scope(kind)}
    return ALLOWED if need in scopes else 403


@pytest.fixture
def clients(django_user_model, settings):
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "API_AUTH_FAILURES": "", "API_RATE": "", "API_ANON_RATE": ""}
    made = {"anonymous": Client()}

    def session(name, **fields):
        user = django_user_model.objects.create_user(name, **fields)
        client = Client()
        client.force_login(user)
        return client, user

    made["plain session"] = session("plain")[0]
    made["staff session"] = session("staff", is_staff=True)[0]
    owner = django_user_model.objects.create_user("owner", is_staff=True)
    for scope in Scope:
        client, user = session(f"holder-{scope}")
        user.user_permissions.add(Permission.objects.get(codename=f"queue_{scope.value}"))
        made[f"{scope} session"] = client
        key = ApiKey.objects.issue(owner, scope.value, [scope])[1]
        made[f"{scope} key"] = Client(HTTP_AUTHORIZATION=f"Token {key}")
    revoked, key = ApiKey.objects.issue(owner, "revoked", list(Scope))
    revoked.revoked = True
    revoked.save()
    made["revoked key"] = Client(HTTP_AUTHORIZATION=f"Token {key}")
    expired = ApiKey.objects.issue(owner, "expired", list(Scope), expires=timezone.now() - timedelta(seconds=1))[1]
    made["expired key"] = Client(HTTP_AUTHORIZATION=f"Token {expired}")
    return made


def outcome(response) -> object:
    if response.status_code == 302 and "/login/" in response.get("Location", ""):
        return LOGIN
    if response.status_code in (401, 403):
        return response.status_code
    return ALLOWED


def test_every_route_has_an_entry():
    api_and_pages = routes()
    assert set(api_and_pages) == set(ROUTES), "add the new route to ROUTES (and check what it needs)"
    for route, methods in api_and_pages.items():
        if methods is not None:
            assert sorted(ROUTES[route]) == methods, route


def test_every_caller_gets_what_the_table_says(clients):
    wrong = []
    for route, needs in ROUTES.items():
        path = concrete(route)
        for method, need in needs.items():
            for caller in CALLERS:
                client = clients[caller]
                kwargs = {"content_type": "application/json", "data": "{}"} if method in ("post", "patch") else {}
                got = outcome(getattr(client, method)(path, **kwargs))
                want = expected(route, need, caller)
                if got != want:
                    wrong.append(f"{method.upper()} {path} as {caller}: {got}, expected {want}")
    assert not wrong, "\n".join(wrong)


def test_the_admin_site_is_for_staff_sessions_only(clients):
    admin_routes = list(routes(site=True))
    assert len(admin_routes) > 20
    wrong = []
    for route in admin_routes:
        path = concrete(route)
        if path.endswith(("/login/", "/logout/")) or "r/<" in route or "/r/" in path:
            continue  # the login page itself, and view-on-site redirects
        for caller in CALLERS:
            got = outcome(clients[caller].get(path))
            want = expected(route, SITE, caller)
            if got != want and not (want == ALLOWED and got == 403):  # staff without a model's add right: 403
                wrong.append(f"GET {path} as {caller}: {got}, expected {want}")
    assert not wrong, "\n".join(wrong)
