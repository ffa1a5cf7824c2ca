from django.urls import path

from dashboard.views import (
    audit,
    bulk,
    create,
    dead_letters,
    flows,
    metrics,
    overview,
    queues,
    schedules,
    task_actions,
    tasks,
    workers,
)

app_name = "dashboard"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("tasks/", tasks.task_list, name="tasks"),
    path("tasks/new/", create.create_task, name="create"),
    path("tasks/bulk/", bulk.bulk, name="bulk"),
    path("tasks/<uuid:pk>/", tasks.task_detail, name="task"),
    path("tasks/<uuid:pk>/retry/", task_actions.retry, name="task_retry"),
    path("tasks/<uuid:pk>/cancel/", task_actions.cancel, name="task_cancel"),
    path("tasks/<uuid:pk>/run-now/", task_actions.run_now, name="task_run_now"),
    path("tasks/<uuid:pk>/delete/", task_actions.delete, name="task_delete"),
    path("tasks/<uuid:pk>/deliveries/<int:delivery>/redeliver/", task_actions.redeliver, name="redeliver"),
    path("workers/", workers.worker_list, name="workers"),
    path("workers/<uuid:pk>/pause/", workers.pause, name="worker_pause"),
    path("workers/<uuid:pk>/resume/", workers.resume, name="worker_resume"),
    path("queues/", queues.queue_list, name="queues"),
    path("queues/<str:queue_name>/pause/", queues.pause, name="queue_pause"),
    path("queues/<str:queue_name>/resume/", queues.resume, name="queue_resume"),
    path("queues/<str:queue_name>/purge/", queues.purge, name="queue_purge"),
    path("queues/<str:queue_name>/limits/", queues.limits, name="queue_limits"),
    path("dead-letters/", dead_letters.dead_letter_list, name="dead_letters"),
    path("schedules/", schedules.schedule_list, name="schedules"),
    path("schedules/<int:pk>/<slug:action>", schedules.schedule_action, name="schedule-action"),
    path("workflows/", flows.flow_list, name="flows"),
    path("workflows/<uuid:pk>/", flows.workflow_detail, name="workflow"),
    path("workflows/<uuid:pk>/cancel/", flows.workflow_cancel, name="workflow_cancel"),
    path("batches/<uuid:pk>/", flows.batch_detail, name="batch"),
    path("batches/<uuid:pk>/cancel/", flows.batch_cancel, name="batch_cancel"),
    path("metrics/", metrics.metrics, name="metrics"),
    path("audit/", audit.audit_log, name="audit"),
]
