"""Paths of the reference documents, served by the same views as /api/...
(tasks/api/compat.py says what differs). Three lists, each included where it
cannot shadow or slow down the API's own routes:

- `root`: document 001's root paths (/tasks, /stats, /health); last in the root
  URLconf, left out of the OpenAPI schema.
- `admin`: document 003's /admin/... operations; before the Django admin, which
  keeps every other /admin/ path.
- `v1`, `queue`, `tasks`: document 003's /api/v1/..., 002's /api/queue/... and
  004's /api/tasks/status|all|stats, in tasks/api/urls.py before the task routes
  (whose /api/tasks/{id} would take "all" and "stats" for ids).
"""

from django.urls import re_path

from tasks.api import compat, monitoring, operators, views

TASK_ID = r"(?P<pk>[^/.]+)"

root = [
    re_path(r"^tasks/?$", views.TaskViewSet.as_view({"get": "list", "post": "create"})),
    re_path(rf"^tasks/{TASK_ID}/?$", views.TaskViewSet.as_view({"get": "retrieve", "delete": "destroy"})),
    re_path(r"^stats/?$", monitoring.stats),
    re_path(r"^health/?$", monitoring.health),
]

admin = [
    re_path(r"^health/?$", compat.AdminHealth.as_view()),
    re_path(r"^workers/?$", operators.WorkerViewSet.as_view({"get": "list"})),
    re_path(r"^workers/(?P<pk>[^/.]+)/?$", operators.WorkerViewSet.as_view({"get": "retrieve"})),
    re_path(r"^workers/(?P<pk>[^/.]+)/pause/?$", operators.WorkerViewSet.as_view({"post": "pause"})),
    re_path(r"^workers/(?P<pk>[^/.]+)/resume/?$", operators.WorkerViewSet.as_view({"post": "resume"})),
    re_path(r"^queues/?$", operators.QueueViewSet.as_view({"get": "list"})),
    re_path(r"^queues/(?P<priority>[^/.]+)/?$", compat.PurgePriority.as_view()),
    re_path(r"^tasks/(?P<pk>[0-9a-fA-F-]{32,36})/retry/?$", views.TaskViewSet.as_view({"post": "retry"})),
    re_path(r"^dlq/?$", compat.ClearDeadLetters.as_view()),
    re_path(r"^dlq/retry/?$", compat.RetryDeadLetters.as_view()),
]

v1 = [  # under /api/v1/
    re_path(r"^tasks/?$", compat.V1TaskViewSet.as_view({"get": "depths", "post": "create"})),
    re_path(rf"^tasks/{TASK_ID}/?$", compat.V1TaskViewSet.as_view({"get": "retrieve", "delete": "destroy"})),
]

queue = [  # under /api/queue/
    re_path(r"^email/?$", compat.EmailTaskViewSet.as_view({"post": "create"})),
    re_path(r"^email/delayed/?$", compat.DelayedEmailTaskViewSet.as_view({"post": "create"})),
    re_path(r"^image/?$", compat.ImageTaskViewSet.as_view({"post": "create"})),
    re_path(r"^stats/?$", monitoring.stats),
]

tasks = [  # under /api/tasks/ (document 004), before the task routes; left out of the schema
    re_path(rf"^status/{TASK_ID}/?$", views.TaskViewSet.as_view({"get": "retrieve"})),
    re_path(r"^all/?$", views.TaskViewSet.as_view({"get": "list"})),
    re_path(r"^stats/?$", monitoring.stats),
]

# The root URLconf includes this module for the root paths.
urlpatterns = root
