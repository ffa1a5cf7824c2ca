"""503, not 500, while the database is unreachable, on every page.

A view that fails because PostgreSQL is away (restarting, failing over, out of
connections) answers 503 with Retry-After, in the API's error shape under the
API's paths, so clients retry instead of reporting a crash. Nothing was
written: the request's transaction never committed.
"""

import logging

from django.db import InterfaceError, OperationalError, connections
from django.http import HttpResponse

from tasks.api.middleware import DATABASE_RETRY_AFTER, database_unavailable, is_api_path

logger = logging.getLogger("queueproject")

MESSAGE = "The database is unavailable; nothing was changed. Retry in a few seconds."


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        first_line = (str(exception).strip().splitlines() or [type(exception).__name__])[0]
        logger.warning("Database unavailable during %s %s: %s", request.method, request.path, first_line)
        for connection in connections.all(initialized_only=True):
            connection.close_if_unusable_or_obsolete()
        if is_api_path(request.path):
            return database_unavailable()
        response = HttpResponse(MESSAGE, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response
