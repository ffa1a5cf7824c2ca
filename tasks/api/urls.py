from django.urls import re_path
from rest_framework.routers import SimpleRouter

from tasks.api import views


class OptionalSlashRouter(SimpleRouter):
    """Every route answers with and without a trailing slash, as the reference API does."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("tasks", views.TaskViewSet, basename="task")

urlpatterns = [
    # One route for both spellings, so the schema has one operation (no collision warning).
    re_path(r"^health/?$", views.health, name="health"),
    *router.urls,
]
