from django.urls import path
from rest_framework.routers import SimpleRouter

from tasks.api import stream, views


class OptionalSlashRouter(SimpleRouter):
    """Every route answers with and without a trailing slash, as the reference API does."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("tasks", views.TaskViewSet, basename="task")

urlpatterns = [
    path("health", views.health, name="health"),
    path("health/", views.health),
    path("events", stream.events_view, name="events"),
    path("events/", stream.events_view),
    *router.urls,
]
