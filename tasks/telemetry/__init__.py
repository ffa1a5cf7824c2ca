"""What the queue tells about itself, read without scanning the task table:

- counters.py: the one reader of the trigger-maintained counts (per queue and
  status, per minute), and their fold;
- summary.py: statistics and per-queue summaries, as the API and the dashboard show them;
- event_log.py: the event log read in commit-safe order (SSE streams, metrics fold);
- metrics.py: Prometheus metrics; logs.py: structured log fields and the JSON format.
"""
