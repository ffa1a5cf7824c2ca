"""One error shape for every API response that is not a success:

    {"error": {"code": "invalid", "message": "A sentence.", "fields": {"priority": ["..."]}}}

`fields` appears only when specific fields are at fault.
"""

import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from tasks import conf
from tasks.exceptions import QueueFull

MESSAGES = {
    status.HTTP_400_BAD_REQUEST: "The request is invalid.",
    status.HTTP_401_UNAUTHORIZED: "Authentication is required: send 'Authorization: Token <token>'.",
    status.HTTP_403_FORBIDDEN: "You do not have permission to do this.",
    status.HTTP_404_NOT_FOUND: "Not found.",
    status.HTTP_405_METHOD_NOT_ALLOWED: "This method is not allowed here.",
    status.HTTP_409_CONFLICT: "The task's current state does not allow this.",
    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE: "The request body is too large.",
    status.HTTP_429_TOO_MANY_REQUESTS: "Too many requests; wait as Retry-After says.",
    status.HTTP_503_SERVICE_UNAVAILABLE: "The service is temporarily unavailable; try again shortly.",
    status.HTTP_500_INTERNAL_SERVER_ERROR: "The server failed to handle the request; it has been logged.",
}


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


class Conflict(exceptions.APIException):
    """The task's (or worker's) current state forbids the change; the message says which state."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = MESSAGES[409]


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = MESSAGES[413]


class Unavailable(exceptions.APIException):
    """503 with Retry-After: backpressure, or the database is unreachable."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"
    default_detail = MESSAGES[503]

    def __init__(self, detail=None, code=None, retry_after: float = 5):
        super().__init__(detail, code)
        self.wait = max(1, math.ceil(retry_after))  # DRF's handler turns `wait` into Retry-After


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, QueueFull):
        exc = Unavailable(str(exc), "queue_full", retry_after=conf.get("BACKPRESSURE_RETRY_AFTER"))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, dict):
        fields = _flatten(exc.detail)
        names = ", ".join(fields)
        message = f"Invalid fields: {names}." if names else MESSAGES[400]
        if list(fields) == ["non_field_errors"]:
            message = fields.pop("non_field_errors")[0]
        response.data = error_body("invalid", message, fields or None)
        return response
    detail = exc.detail if isinstance(exc, exceptions.APIException) else None
    message = _text(detail) or MESSAGES.get(response.status_code, "The request failed.")
    code = detail.code if hasattr(detail, "code") else getattr(exc, "default_code", "error")
    response.data = error_body(str(code), message)
    return response


def json_error(status_code: int, code: str, message: str) -> JsonResponse:
    """For errors raised outside DRF views (unknown URLs, crashes, database down)."""
    return JsonResponse(error_body(code, message), status=status_code)


def _flatten(detail) -> dict[str, list[str]]:
    fields = {}
    for name, value in ((str(k), v) for k, v in detail.items()):
        if isinstance(value, dict):
            for sub, messages in _flatten(value).items():
                # DRF keys the errors of a list's items by their index: tasks[3].priority
                index, dot, rest = sub.partition(".")
                key = f"{name}[{index}]{dot}{rest}" if index.isdigit() else f"{name}.{sub}"
                fields[key.removesuffix(".non_field_errors")] = messages
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for index, item in enumerate(value):
                for sub, messages in _flatten(item).items():
                    fields[f"{name}[{index}].{sub}"] = messages
        else:
            fields[name] = [str(m) for m in (value if isinstance(value, list) else [value])]
    return fields


def _text(detail) -> str:
    if detail is None:
        return ""
    if isinstance(detail, list):
        return " ".join(str(d) for d in detail)
    if isinstance(detail, dict):
        return " ".join(f"{k}: {v}" for k, v in detail.items())
    return str(detail)
