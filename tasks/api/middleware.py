"""Guards in front of every API request, outside DRF's reach.

- Bodies larger than QUEUE_API_MAX_BODY_BYTES are refused with 413 before
  anything reads them. That is the API's one body limit: the body is read here
  (bounded by it) and handed to DRF already read, so Django's own
  DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), which guards request.body, does not cut
  a valid 3 MB bulk request short. A chunked body (Transfer-Encoding: chunked,
  no Content-Length), which Django would read as empty, is read here too, at
  most limit + 1 bytes of it, so the same 413 applies.
- `database_unavailable()` is the API's 503 while the database cannot be
  reached; queueproject.middleware answers it for every path.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig

from tasks import conf
from tasks.api.errors import json_error

DATABASE_RETRY_AFTER = 5
NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})
# The API's own prefix, plus the reference documents' root paths /tasks, /stats, /health
# and document 003's /admin/ operations (tasks/api/compat_urls.py).
API_PREFIXES = ("/api/", "/tasks", "/stats", "/health", "/admin/health", "/admin/workers", "/admin/queues",
                "/admin/dlq")


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
        if is_api_path(request.path) and request.method not in NO_BODY:
            if refused := self._body_too_large(request) or self._read_body(request):
                return refused
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_api_path(request.path) and isinstance(exception, RequestDataTooBig):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return json_error(413, "too_large", f"The request body is over {limit} bytes; send less.")
        return None

    @staticmethod
    def _read_body(request):
        """Read the body now, within QUEUE_API_MAX_BODY_BYTES (413 beyond it)."""
        limit = conf.get("API_MAX_BODY_BYTES")
        meta = request.META
        if not meta.get("CONTENT_LENGTH") and "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
            stream = request.environ.get("wsgi.input")
            body = b"" if stream is None else stream.read(limit + 1) if limit else stream.read()
            if limit and len(body) > limit:
                return json_error(413, "too_large", f"The chunked request body is over the limit of {limit} bytes.")
            meta["CONTENT_LENGTH"] = str(len(body))  # what DRF looks at to know there is a body
            request._read_started = True
        elif not meta.get("CONTENT_LENGTH"):
            return None
        else:
            body = request.read()  # at most Content-Length bytes, checked against the limit already
        request._body = body  # what request.body returns from now on, without Django's own limit
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
