from django.urls import include, re_path
from rest_framework.routers import SimpleRouter

from tasks.api import compat_urls, flows, monitoring, operators, stream, views


class OptionalSlashRouter(SimpleRouter):
    """Every route answers with and without a trailing slash (clients write both)."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


def optional_slash(route: str, view, name: str):
    return re_path(rf"^{route}/?$", view, name=name)


router = OptionalSlashRouter()
router.register("tasks", views.TaskViewSet, basename="task")
router.register("workers", operators.WorkerViewSet, basename="worker")
router.register("queues", operators.QueueViewSet, basename="queue")
router.register("workflows", flows.WorkflowViewSet, basename="workflow")
router.register("batches", flows.BatchViewSet, basename="batch")

urlpatterns = [
    optional_slash("health", monitoring.health, "health"),
    optional_slash("stats", monitoring.stats, "stats"),
    optional_slash("dead-letters", operators.DeadLetterList.as_view(), "dead-letters"),
    optional_slash("dead-letters/retry", operators.DeadLetterRetry.as_view(), "dead-letters-retry"),
    optional_slash("events", stream.events_view, "events"),
    # The reference documents' paths under /api/ (tasks/api/compat_urls.py). Document
    # 004's come first, or /api/tasks/{id} would take "all" and "stats" for ids: behind
    # one look-ahead, so that the task routes pay a single test for them.
    re_path(r"^tasks/(?=status/|all/?$|stats/?$)", include(compat_urls.tasks)),
    *router.urls,
    re_path(r"^v1/", include(compat_urls.v1)),
    re_path(r"^queue/", include(compat_urls.queue)),
]
