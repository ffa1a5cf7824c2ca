"""The Django admin of the queue, one module per family of models:

- scoped.py: what they share (permissions by scope, the audit log, confirmed
  destructive actions, cheap counts);
- task_admin.py: tasks;
- fleet_admin.py: workers, queues, webhook deliveries, schedules, the audit log;
- flow_admin.py: workflows and batches (read-only, with a cancel action);
- key_admin.py: API keys (the admin scope).
"""

from tasks.admin import fleet_admin, flow_admin, key_admin, task_admin

__all__ = ["fleet_admin", "flow_admin", "key_admin", "task_admin"]
