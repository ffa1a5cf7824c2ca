"""JSON errors for API paths outside DRF's reach (unknown URLs, crashes); HTML elsewhere."""

from django.views import defaults

from tasks.api.errors import json_error


def not_found(request, exception):
    if request.path.startswith("/api/"):
        return json_error(404, "not_found", f"No endpoint at {request.path}. See /api/docs.")
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return json_error(500, "server_error", "The server failed to handle the request; it has been logged.")
    return defaults.server_error(request)
