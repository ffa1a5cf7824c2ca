"""A task queue whose only infrastructure is PostgreSQL.

Bottom to top (no module imports one above it; tests/test_layout.py checks):

- conf, exceptions, db, access, jobs, context, validation: settings, errors,
  database plumbing, the scopes of who may do what, the values that travel
  between queue and worker, what a running handler may ask, the rules for a
  task's fields;
- handlers/: task types (registry and built-in types);
- models/: rows and the vocabulary for reading them;
- telemetry/: counters, statistics, event log, metrics, logs (reading only);
- queue/: the only writer of task state;
- webhooks/, backends/ (django.tasks), maintenance/ (housekeeping chores),
  worker/ (the runtime of `manage.py worker`);
- api/, management/, admin: thin adapters for HTTP, the command line and the
  Django admin (the dashboard is an app of its own).
"""
