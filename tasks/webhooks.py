"""Outbound webhooks: URL safety, signed POSTs, and the delivery outbox.

Completion statements write a WebhookDelivery row next to the outcome; a
sender thread in each worker claims due deliveries with a lease, POSTs them
outside any transaction, and records every attempt.
"""

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import threading
import time
from datetime import datetime, timedelta
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connection
from django.utils import timezone

from tasks import conf, retry

logger = logging.getLogger("tasks.webhooks")

MAX_REDIRECTS = 3
SIGNATURE_HEADER = "X-Queue-Signature"


class UnsafeURL(ValueError):
    """The URL is not http(s), or points at a private, loopback or link-local address."""


def check_url(url: str, *, resolve: bool = True) -> None:
    """Raise UnsafeURL unless `url` is http(s) and, once resolved, public (or allowed)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL(f"Webhook URLs must be http or https with a host, not {url!r}.")
    if not resolve or conf.get("WEBHOOK_ALLOW_PRIVATE"):
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise UnsafeURL(f"The webhook host {parts.hostname!r} does not resolve: {exc}.") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            raise UnsafeURL(
                f"The webhook host {parts.hostname!r} resolves to {address}, a non-public address; "
                "set QUEUE_WEBHOOK_ALLOW_PRIVATE=true to allow it."
            )


def sign(body: bytes, timestamp: int) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", as receivers verify it."""
    secret = (conf.get("WEBHOOK_SECRET") or settings.SECRET_KEY).encode()
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def post_json(url: str, document, *, timeout: float | None = None) -> requests.Response:
    """POST `document` as signed JSON; redirects are followed only to safe URLs."""
    body = json.dumps(document, cls=DjangoJSONEncoder).encode()
    timeout = timeout or conf.get("WEBHOOK_TIMEOUT")
    for _ in range(MAX_REDIRECTS + 1):
        check_url(url)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "django-pg-taskqueue/1.0",
            SIGNATURE_HEADER: sign(body, int(time.time())),
        }
        response = requests.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
        if not response.is_redirect:
            return response
        url = urljoin(url, response.headers["Location"])
    raise requests.TooManyRedirects(f"More than {MAX_REDIRECTS} redirects.")


# Claim due deliveries with a lease instead of a lock held during the POST: if
# the sender dies, the lease runs out and another worker delivers.
CLAIM_DUE = """
UPDATE tasks_webhookdelivery d
SET next_attempt_at = now() + make_interval(secs => %(lease)s), attempts = d.attempts + 1
WHERE d.id IN (
    SELECT id FROM tasks_webhookdelivery
    WHERE status = 'pending' AND next_attempt_at <= now()
    ORDER BY next_attempt_at LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING d.id, d.task_id, d.url, d.event, d.attempts
"""

RECORD = """
UPDATE tasks_webhookdelivery
SET status = %(status)s, response_code = %(code)s, last_error = %(error)s,
    next_attempt_at = coalesce(%(next)s, next_attempt_at), delivered_at = %(delivered)s,
    log = log || jsonb_build_array(%(entry)s::jsonb)
WHERE id = %(id)s
"""


def deliver_due(now: datetime | None = None, *, limit: int = 10) -> int:
    """Attempt every due delivery (up to `limit`); returns how many were attempted."""
    from tasks.api.serializers import TaskSerializer
    from tasks.models import Task

    lease = conf.get("WEBHOOK_TIMEOUT") * (MAX_REDIRECTS + 1) + 5
    with connection.cursor() as cursor:
        cursor.execute(CLAIM_DUE, {"lease": lease, "limit": limit})
        due = cursor.fetchall()
    for delivery_id, task_id, url, event, attempts in due:
        task = Task.objects.filter(pk=task_id).first()
        if task is None:
            continue
        document = {"event": event, **TaskSerializer(task).data}
        _attempt(delivery_id, url, document, attempts, now or timezone.now())
    return len(due)


def _attempt(delivery_id: int, url: str, document: dict, attempts: int, now: datetime) -> None:
    started = time.monotonic()
    code, error = None, ""
    try:
        response = post_json(url, document)
        code = response.status_code
        if not 200 <= code < 300:
            error = f"The receiver answered HTTP {code}."
    except (requests.RequestException, UnsafeURL) as exc:
        error = f"{type(exc).__name__}: {exc}"
    elapsed_ms = round((time.monotonic() - started) * 1000, 1)
    entry = {"at": now.isoformat(), "attempt": attempts, "status_code": code, "error": error, "ms": elapsed_ms}
    if not error:
        status, next_at, delivered = "delivered", None, timezone.now()
        logger.info("Webhook %s delivered to %s (HTTP %s)", document["id"], url, code)
    elif attempts >= conf.get("WEBHOOK_MAX_ATTEMPTS"):
        status, next_at, delivered = "failed", None, None
        logger.warning("Webhook %s to %s failed for good: %s", document["id"], url, error)
    else:
        delay = retry.backoff(attempts, base=conf.get("RETRY_BASE"), cap=conf.get("RETRY_CAP"), jitter=0.5)
        status, next_at, delivered = "pending", now + timedelta(seconds=delay), None
        logger.warning("Webhook %s to %s failed (attempt %s), retrying: %s", document["id"], url, attempts, error)
    with connection.cursor() as cursor:
        cursor.execute(RECORD, {
            "id": delivery_id, "status": status, "code": code, "error": error, "next": next_at,
            "delivered": delivered, "entry": json.dumps(entry),
        })


class WebhookSender(threading.Thread):
    """Delivers due webhooks on its own connection until stopped."""

    IDLE_WAIT = 0.5

    def __init__(self) -> None:
        super().__init__(name="webhook-sender", daemon=True)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                busy = deliver_due() > 0
            except DatabaseError as exc:
                logger.warning("Webhook delivery paused: database unavailable (%s)", str(exc).strip().split("\n")[0])
                connection.close()
                busy = False
            except Exception:
                logger.exception("Webhook delivery failed; retrying")
                connection.close()
                busy = False
            if not busy:
                self.stopped.wait(self.IDLE_WAIT)
        connection.close()

    def stop(self) -> None:
        self.stopped.set()
