"""Outbound webhooks: the delivery outbox.

Completion statements write a WebhookDelivery row next to the outcome; a
sender thread in each worker claims due deliveries with a lease, POSTs them
outside any transaction, and records every attempt. URL safety and the HTTP
request itself are in http.py, the signature in signing.py.
"""

import json
import logging
import threading
import time
from datetime import datetime, timedelta

from django.db import DatabaseError, connection
from django.db.models import QuerySet
from django.utils import timezone

from tasks import conf
from tasks.db import primary_unavailable
from tasks.models import DeliveryStatus, Task
from tasks.queue import retry_policy
from tasks.webhooks.http import MAX_REDIRECTS, UnsafeURL, WebhookError, post_json, redact

logger = logging.getLogger("tasks.webhooks")


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


def redeliver(deliveries: QuerySet, now: datetime) -> int:
    """Send delivered or failed deliveries again, with a fresh set of attempts;
    their log keeps the earlier attempts. Returns how many."""
    return deliveries.exclude(status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now, delivered_at=None)


def deliver_due(now: datetime | None = None, *, limit: int = 10) -> int:
    """Attempt every due delivery (up to `limit`); returns how many were attempted."""
    lease = conf.get("WEBHOOK_TIMEOUT") * (MAX_REDIRECTS + 1) + 5
    with connection.cursor() as cursor:
        cursor.execute(CLAIM_DUE, {"lease": lease, "limit": limit})
        due = cursor.fetchall()
    for delivery_id, task_id, url, event, attempts in due:
        task = Task.objects.filter(pk=task_id).first()
        if task is None:
            continue
        document = {"event": event, **task.as_json()}
        _attempt(delivery_id, url, document, attempts, now or timezone.now())
    return len(due)


def _attempt(delivery_id: int, url: str, document: dict, attempts: int, now: datetime) -> None:
    started = time.monotonic()
    code, error, refused = None, "", False
    try:
        response = post_json(url, document)
        code = response.status_code
        if not 200 <= code < 300:
            error = f"The receiver answered HTTP {code}."
    except WebhookError as exc:
        error = f"{type(exc).__name__}: {exc}"
    except UnsafeURL as exc:
        # The guard's refusal (a non-public or unresolvable host, a bad URL) is
        # final: the same URL would be refused again on every retry.
        error, refused = f"{type(exc).__name__}: {exc}", True
    elapsed_ms = round((time.monotonic() - started) * 1000, 1)
    entry = {"at": now.isoformat(), "attempt": attempts, "status_code": code, "error": error, "ms": elapsed_ms}
    if not error:
        status, next_at, delivered = "delivered", None, timezone.now()
        logger.info("Webhook %s delivered to %s (HTTP %s)", document["id"], redact(url), code)
    elif refused or attempts >= conf.get("WEBHOOK_MAX_ATTEMPTS"):
        status, next_at, delivered = "failed", None, None
        logger.warning("Webhook %s to %s failed for good: %s", document["id"], redact(url), error)
    else:
        delay = retry_policy.backoff(attempts, base=conf.get("RETRY_BASE"), cap=conf.get("RETRY_CAP"), jitter=0.5)
        status, next_at, delivered = "pending", now + timedelta(seconds=delay), None
        logger.warning("Webhook %s to %s failed (attempt %s), retrying: %s", document["id"], redact(url), attempts,
                       error)
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
                if not primary_unavailable(exc):
                    logger.exception("Webhook delivery failed; retrying")
                else:
                    logger.warning("Webhook delivery paused: database unavailable (%s)",
                                   str(exc).strip().split("\n")[0])
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
