"""GET /api/stats, GET /api/health and GET /metrics."""

import hmac

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from rest_framework import status
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from tasks import conf, replica
from tasks.api import lookups
from tasks.api.coalesce import SharedRead
from tasks.api.errors import json_error
from tasks.api.operator_serializers import HealthSerializer, StatsSerializer
from tasks.telemetry import alarms, metrics, summary

HEALTH_RETRY_AFTER = "5"


@extend_schema(responses=StatsSerializer)
@api_view(["GET"])
def stats(request):
    """Counts per status and queue, throughput and the oldest pending task's age.

    Read from trigger-maintained counters: the cost does not grow with the table."""
    return Response(shared_stats())


def release_connection() -> None:
    """Give this thread's connection back to the pool while it waits for a shared reading."""
    if not connection.in_atomic_block:
        connection.close()


# Clients asking at the same moment share one reading, never older than their request
# (tasks/api/coalesce.py).
shared_stats = SharedRead(summary.stats, release_connection)


@extend_schema(responses={200: HealthSerializer, 503: HealthSerializer}, auth=[])
@api_view(["GET"])
@permission_classes([AllowAny])
@authentication_classes([])  # open to all: no token lookup
@throttle_classes([])  # load balancers poll it; it must not be rate limited
def health(request):
    """The database answers and takes writes, and how many workers are alive. No token needed; 503 when
    the database is unreachable or answers read-only (a standby); "degraded" (still 200) when tasks wait
    and no live worker runs them; the read replica's lag when DATABASE_REPLICA_URL is set."""
    code, body = shared_health()
    return Response(body, status=code, headers={"Retry-After": HEALTH_RETRY_AFTER} if code == 503 else None)


def _health() -> tuple[int, dict]:
    now = timezone.now()
    try:
        alive, paused, last, writable = lookups.worker_health(now)
    except DatabaseError as exc:
        return status.HTTP_503_SERVICE_UNAVAILABLE, {
            "status": "unavailable", "database": f"unreachable: {type(exc).__name__}", "primary": None,
            "workers": None, "workers_paused": None, "problems": [], "last_heartbeat_age_seconds": None,
            **_replica_health(),
        }
    # Still 200 when degraded: this web process serves; the problems are the worker fleet's.
    problems = alarms.fleet_problems(now, alive=alive, paused=paused)
    if not writable:
        # Reachable, but a standby (mid-failover, or a URL without target_session_attrs=read-write).
        problems = ["The database answers but does not take writes (a standby): no task can be created or run.",
                    *problems]
    return status.HTTP_200_OK if writable else status.HTTP_503_SERVICE_UNAVAILABLE, {
        "status": "unavailable" if not writable else "degraded" if problems else "ok", "database": "ok",
        "primary": "writable" if writable else "read-only", "workers": alive,
        "workers_paused": paused, "problems": problems,
        "last_heartbeat_age_seconds": round((now - last).total_seconds(), 3) if last else None,
        **_replica_health(),
    }


def _replica_health() -> dict:
    """{"replica": ...} when DATABASE_REPLICA_URL is set: whether it answers, and its lag."""
    if not replica.configured():
        return {}
    try:
        lag = replica.lag_seconds()
    except DatabaseError as exc:
        return {"replica": {"database": f"unreachable: {type(exc).__name__}", "lag_seconds": None}}
    return {"replica": {"database": "ok", "lag_seconds": round(lag, 3)}}


# Load balancers and monitors polling at once share one reading, never older than their request.
shared_health = SharedRead(_health, release_connection)


@csrf_exempt  # a read with its own bearer token: another method is a 405, not a CSRF refusal
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics. Open unless QUEUE_METRICS_TOKEN is set; then it needs
    `Authorization: Bearer <token>` (Prometheus: `authorization: {credentials: ...}`)."""
    token = conf.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            response = json_error(401, "not_authenticated",
                                  "Send 'Authorization: Bearer <QUEUE_METRICS_TOKEN>' to read the metrics.")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    try:
        body = metrics.render()
    except DatabaseError as exc:
        response = json_error(503, "database_unavailable", f"The database is unreachable ({type(exc).__name__}).")
        response["Retry-After"] = "5"
        return response
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
