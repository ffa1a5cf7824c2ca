"""Outbound webhooks: the delivery outbox and its sender thread (outbox.py),
the SSRF-guarded HTTP client (http.py) and the request signature (signing.py)."""
