"""Honest status codes for failures a view cannot help: 503 while the database
is unreachable, 413 for a body over DATA_UPLOAD_MAX_MEMORY_SIZE.

The minimal version the reliability work needs (the API's error-handling
middleware may supersede it): a view that fails because PostgreSQL is away
(restarting, failing over, out of connections) answers 503 with Retry-After,
in the API's error shape under /api/, so clients retry instead of reporting a
crash. Nothing was written: the request's transaction never committed.
"""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError, connections
from django.http import HttpResponse

from tasks.api.errors import json_error

logger = logging.getLogger("queueproject")

RETRY_AFTER_SECONDS = 5
MESSAGE = "The database is unavailable; nothing was changed. Retry in a few seconds."


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, RequestDataTooBig) and request.path.startswith("/api/"):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return json_error(413, "too_large", f"The request body is over {limit} bytes; send less.")
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("Database unavailable during %s %s: %s", request.method, request.path,
                       str(exception).strip().splitlines()[0] if str(exception).strip() else type(exception).__name__)
        for connection in connections.all(initialized_only=True):
            connection.close_if_unusable_or_obsolete()
        if request.path.startswith("/api/"):
            response = json_error(503, "database_unavailable", MESSAGE)
        else:
            response = HttpResponse(MESSAGE, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
