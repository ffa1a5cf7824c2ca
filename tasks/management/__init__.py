"""The command line: `manage.py worker`, `serve`, `enqueue`, `retry_failed`,
`purge_queue`, `prune`, `queue_stats`, `worker_health`, `create_api_token`, `api_keys`.
Each command only parses its arguments and hands over to tasks.queue,
tasks.worker, tasks.maintenance, tasks.telemetry or tasks.access.keys."""
