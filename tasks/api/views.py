"""REST endpoints: tasks and health. Views are thin: serializers validate,
tasks.queue changes state."""

from django.db import DatabaseError, connection
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from tasks.api.serializers import TaskCreateSerializer, TaskSerializer
from tasks.models import Task, Worker


class TaskViewSet(mixins.CreateModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Task.objects.all()
    serializer_class = TaskSerializer

    def get_serializer_class(self):
        return TaskCreateSerializer if self.action == "create" else TaskSerializer

    @extend_schema(request=TaskCreateSerializer, responses={201: TaskSerializer})
    def create(self, request, *args, **kwargs):
        serializer = TaskCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = serializer.save()
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)


@extend_schema(
    responses={200: inline_serializer("Health", {"status": serializers.CharField(),
                                                 "database": serializers.CharField(),
                                                 "workers": serializers.IntegerField()})},
    auth=[],
)
@api_view(["GET"])
@permission_classes([AllowAny])
def health(request):
    """Liveness of the service: the database answers, and how many workers are alive."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        workers = Worker.objects.alive(timezone.now()).count()
    except DatabaseError as exc:
        return Response(
            {"status": "unavailable", "database": f"unreachable: {type(exc).__name__}", "workers": None},
            status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "5"},
        )
    return Response({"status": "ok", "database": "ok", "workers": workers})
