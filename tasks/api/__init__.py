"""The REST API (Django REST Framework): a thin adapter over tasks.queue and tasks.telemetry.

views.py and serializers.py: tasks (create, bulk, list, read, retry, cancel);
operators.py and operator_serializers.py: workers, queues, dead letters;
monitoring.py: stats, health and /metrics; stream.py: /api/events (SSE);
errors, filters, pagination, parsers, permissions, throttling, middleware and
schema: the pieces every endpoint shares.
"""
