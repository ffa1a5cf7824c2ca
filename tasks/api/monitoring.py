"""GET /api/stats and GET /api/health."""

from django.db import DatabaseError
from django.db.models import Count, Max, Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from tasks import stats as queue_stats
from tasks.api.ops_serializers import HealthSerializer, StatsSerializer
from tasks.models import Worker, WorkerState

HEALTH_RETRY_AFTER = "5"


@extend_schema(responses=StatsSerializer)
@api_view(["GET"])
def stats(request):
    """Counts per status and queue, throughput and the oldest pending task's age.

    Read from trigger-maintained counters: the cost does not grow with the table."""
    return Response(queue_stats.summary())


@extend_schema(responses={200: HealthSerializer, 503: HealthSerializer}, auth=[])
@api_view(["GET"])
@permission_classes([AllowAny])
@throttle_classes([])  # load balancers poll it; it must not be rate limited
def health(request):
    """The database answers, and how many workers are alive. No token needed; 503 when the database is unreachable."""
    now = timezone.now()
    try:
        seen = Worker.objects.alive(now).aggregate(
            alive=Count("pk"), paused=Count("pk", filter=Q(state=WorkerState.PAUSED)),
        )
        last = Worker.objects.aggregate(last=Max("last_heartbeat"))["last"]
    except DatabaseError as exc:
        return Response(
            {"status": "unavailable", "database": f"unreachable: {type(exc).__name__}", "workers": None,
             "workers_paused": None, "last_heartbeat_age_seconds": None},
            status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": HEALTH_RETRY_AFTER},
        )
    return Response({
        "status": "ok", "database": "ok", "workers": seen["alive"], "workers_paused": seen["paused"],
        "last_heartbeat_age_seconds": round((now - last).total_seconds(), 3) if last else None,
    })
