"""The REST API (Django REST Framework): a thin adapter over tasks.queue and tasks.telemetry.

views.py and serializers.py: tasks (create, bulk, list, read, retry, cancel);
intake.py: plainly valid create bodies without the serializer's per-field work;
lookups.py: the hot reads as prepared statements;
operators.py and operator_serializers.py: workers, queues, dead letters;
monitoring.py: stats, health and /metrics (coalesce.py: concurrent readers share a
reading); stream.py: /api/events (SSE);
authentication (tokens remembered per process), throttling (rate limits counted in
batches), errors, filters, pagination, parsers and renderers (orjson), permissions,
middleware and schema: the pieces every endpoint shares.
"""
