"""One error shape for every API response that is not a success:

    {"error": {"code": "invalid", "message": "A sentence.", "fields": {"priority": ["..."]}}}

`fields` appears only when specific fields are at fault.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

MESSAGES = {
    status.HTTP_400_BAD_REQUEST: "The request is invalid.",
    status.HTTP_401_UNAUTHORIZED: "Authentication is required: send 'Authorization: Token <token>'.",
    status.HTTP_403_FORBIDDEN: "You do not have permission to do this.",
    status.HTTP_404_NOT_FOUND: "Not found.",
    status.HTTP_405_METHOD_NOT_ALLOWED: "This method is not allowed here.",
    status.HTTP_500_INTERNAL_SERVER_ERROR: "The server failed to handle the request; it has been logged.",
}


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
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


def error_response(status_code: int, code: str, message: str, **headers) -> Response:
    return Response(error_body(code, message), status=status_code, headers=headers or None)


def json_error(status_code: int, code: str, message: str) -> JsonResponse:
    """For errors raised outside DRF views (unknown URLs, crashes, database down)."""
    return JsonResponse(error_body(code, message), status=status_code)


def _flatten(detail) -> dict[str, list[str]]:
    fields = {}
    for name, value in detail.items():
        if isinstance(value, dict):
            for sub, messages in _flatten(value).items():
                fields[f"{name}.{sub}"] = messages
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
