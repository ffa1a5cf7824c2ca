"""Built-in task types. Each does real work; none pretends.

- email: sends through Django's email backend (SMTP in production, console by default).
- webhook: POSTs JSON to a URL.
- echo: returns its payload as the result.
- sleep: sleeps for `payload` seconds.
- fail: raises, for trying retries and dead letters.
"""

import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email

from tasks.handlers.registry import register
from tasks.webhooks import http

EMAIL_FIELDS = {"to", "subject", "body", "html", "from", "cc", "bcc", "reply_to"}


def _addresses(value, field: str) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise ValueError(f"The email payload's {field!r} must be an address or a list of addresses.")
    for address in values:
        try:
            validate_email(address)
        except ValidationError:
            raise ValueError(f"{address!r} is not a valid email address.") from None
    return values


def validate_email_payload(payload) -> None:
    if isinstance(payload, str):
        _addresses(payload, "to")
        return
    if not isinstance(payload, dict) or "to" not in payload:
        raise ValueError('The email payload is an address, or an object with "to", "subject" and "body".')
    unknown = set(payload) - EMAIL_FIELDS
    if unknown:
        raise ValueError(f"The email payload has unknown fields: {', '.join(sorted(unknown))}.")
    for field in ("to", "cc", "bcc", "reply_to"):
        if field in payload:
            _addresses(payload[field], field)
    for field in ("subject", "body", "html", "from"):
        if field in payload and not isinstance(payload[field], str):
            raise ValueError(f"The email payload's {field!r} must be a string.")


@register("email", validate=validate_email_payload)
def send_email(payload) -> dict:
    if isinstance(payload, str):
        payload = {"to": payload}
    to = _addresses(payload["to"], "to")
    message = EmailMultiAlternatives(
        subject=payload.get("subject", "Notification"),
        body=payload.get("body", ""),
        from_email=payload.get("from") or settings.DEFAULT_FROM_EMAIL,
        to=to,
        cc=_addresses(payload["cc"], "cc") if "cc" in payload else None,
        bcc=_addresses(payload["bcc"], "bcc") if "bcc" in payload else None,
        reply_to=_addresses(payload["reply_to"], "reply_to") if "reply_to" in payload else None,
    )
    if payload.get("html"):
        message.attach_alternative(payload["html"], "text/html")
    sent = message.send(fail_silently=False)
    return {"sent": sent, "to": to}


def validate_webhook_payload(payload) -> None:
    if not isinstance(payload, dict) or not isinstance(payload.get("url"), str):
        raise ValueError('The webhook payload is an object with a "url" and an optional "body".')
    http.check_url(payload["url"], resolve=False)


@register("webhook", validate=validate_webhook_payload)
def post_webhook(payload) -> dict:
    response = http.post_json(payload["url"], payload.get("body", {}))
    response.raise_for_status()
    return {"status_code": response.status_code}


@register("echo")
def echo(payload):
    return payload


def validate_seconds(payload) -> None:
    if isinstance(payload, bool) or not isinstance(payload, int | float) or not 0 <= payload <= 86400:
        raise ValueError("The sleep payload is a number of seconds from 0 to 86400.")


@register("sleep", validate=validate_seconds)
def sleep(payload) -> dict:
    time.sleep(payload)
    return {"slept": payload}


@register("fail")
def fail(payload):
    message = payload if isinstance(payload, str) and payload else "This task fails on purpose (type 'fail')."
    raise RuntimeError(message)
