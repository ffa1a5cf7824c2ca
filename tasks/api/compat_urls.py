"""The reference documents' root paths (001, "Testing API": /tasks, /stats, /health),
served by the same views as /api/...; left out of the OpenAPI schema."""

from django.urls import re_path

from tasks.api import monitoring, views

urlpatterns = [
    re_path(r"^tasks/?$", views.TaskViewSet.as_view({"get": "list", "post": "create"})),
    re_path(r"^tasks/(?P<pk>[^/.]+)/?$", views.TaskViewSet.as_view({"get": "retrieve", "delete": "destroy"})),
    re_path(r"^stats/?$", monitoring.stats),
    re_path(r"^health/?$", monitoring.health),
]
