"""Guards in front of every API request, outside DRF's reach.

- Bodies larger than QUEUE_API_MAX_BODY_BYTES are refused with 413 before
  anything reads them (DRF parses request streams directly, so Django's
  DATA_UPLOAD_MAX_MEMORY_SIZE alone would not stop a large JSON body); a body
  that trips Django's own limit while being read gets the same 413.
- `database_unavailable()` is the API's 503 while the database cannot be
  reached; queueproject.middleware answers it for every path.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig

from tasks import conf
from tasks.api.errors import json_error

DATABASE_RETRY_AFTER = 5
# The API's own prefix, plus the root-path aliases /tasks, /stats, /health (tasks/api/compat_urls.py).
API_PREFIXES = ("/api/", "/tasks", "/stats", "/health")


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def database_unavailable():
    response = json_error(503, "database_unavailable",
                          "The database is unreachable or overloaded; try again in a few seconds.")
    response["Retry-After"] = str(DATABASE_RETRY_AFTER)
    return response


class ApiGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if is_api_path(request.path) and (too_large := self._body_too_large(request)):
            return too_large
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_api_path(request.path) and isinstance(exception, RequestDataTooBig):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return json_error(413, "too_large", f"The request body is over {limit} bytes; send less.")
        return None

    @staticmethod
    def _body_too_large(request):
        limit = conf.get("API_MAX_BODY_BYTES")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return json_error(400, "invalid", "The Content-Length header must be a whole number.")
        if limit and length > limit:
            return json_error(413, "too_large", f"The request body is {length} bytes; the limit is {limit} bytes.")
        return None
