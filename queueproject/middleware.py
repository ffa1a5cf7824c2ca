"""503, not 500, while the database is unreachable, on every page; and
monitoring reads from the replica (ReplicaReadsMiddleware, at the end).

A view that fails because PostgreSQL is away (restarting, failing over, out of
connections), or because its write reached a read-only standby (SQLSTATE 25006,
right after a failover), answers 503 with Retry-After, in the API's error shape under the
API's paths, so clients retry instead of reporting a crash. Nothing was
written: the request's transaction never committed.
"""

import logging

import psycopg
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.http import HttpResponse

from tasks import conf, replica
from tasks.api.middleware import DATABASE_RETRY_AFTER, database_unavailable, is_api_path
from tasks.db import discard_connection, read_only_server

logger = logging.getLogger("queueproject")

MESSAGE = "The database is unavailable; nothing was changed. Retry in a few seconds."


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        read_only = read_only_server(exception)
        # psycopg's own errors too: hot-path statements run on raw psycopg cursors (tasks/db.py).
        lost = OperationalError | InterfaceError | psycopg.OperationalError | psycopg.InterfaceError
        if not (read_only or isinstance(exception, lost)):
            return None
        first_line = (str(exception).strip().splitlines() or [type(exception).__name__])[0]
        logger.warning("Database unavailable during %s %s: %s", request.method, request.path, first_line)
        for connection in connections.all(initialized_only=True):
            connection.close_if_unusable_or_obsolete()
        if read_only:
            discard_connection()  # a usable connection, but to a standby: find the primary again
        if is_api_path(request.path):
            return database_unavailable()
        response = HttpResponse(MESSAGE, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response


# Views whose GET may read from the replica: monitoring, where a second of
# staleness is harmless. Never a page that shows the caller's own write (a task's
# detail after creating or retrying it) or one that writes.
REPLICA_VIEWS = {
    "task-list", "stats",
    "dashboard:overview", "dashboard:tasks", "dashboard:workers", "dashboard:queues",
    "dashboard:dead_letters", "dashboard:schedules", "dashboard:metrics", "dashboard:audit",
}
# Set on the response to any write: this browser then reads from the primary for
# QUEUE_REPLICA_MAX_LAG seconds, so that an operator sees the result of an action
# (retry all, purge) on the page the action redirects to.
PRIMARY_COOKIE = "queue_read_primary"


class ReplicaReadsMiddleware:
    """Runs REPLICA_VIEWS' GETs with the replica as this thread's database, when
    one is configured and fresh enough; falls back to the primary when it fails."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method not in ("GET", "HEAD", "OPTIONS") and replica.configured():
            response.set_cookie(PRIMARY_COOKIE, "1", max_age=int(conf.get("REPLICA_MAX_LAG")) + 1,
                                httponly=True, samesite="Lax")
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not self._eligible(request):
            return None
        try:
            with replica.reading():
                response = view_func(request, *view_args, **view_kwargs)
                if callable(getattr(response, "render", None)):
                    response = response.render()  # templates may still run queries: here, not on the primary
                return response
        except (DatabaseError, psycopg.Error) as exc:
            # Replica away or refusing: the primary answers instead (a read-only view runs again safely).
            logger.warning("Replica read failed for %s (%s); reading from the primary", request.path,
                           (str(exc).strip().splitlines() or [type(exc).__name__])[0])
            for connection in connections.all(initialized_only=True):
                connection.close_if_unusable_or_obsolete()
            return None

    @staticmethod
    def _eligible(request) -> bool:
        if (request.method not in ("GET", "HEAD") or not replica.configured()
                or request.resolver_match is None or request.resolver_match.view_name not in REPLICA_VIEWS
                or request.COOKIES.get(PRIMARY_COOKIE)):
            return False
        return replica.recent_lag() <= conf.get("REPLICA_MAX_LAG")  # infinite while it is away
