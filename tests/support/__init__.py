"""Helpers that the tests and the scripts (benchmark, fault suite, smoke run) share.

Nothing here is a pytest fixture, so a script can import it without pytest:
processes.py (paths, the fast queue settings, stopping processes, free ports,
waiting), web.py (the web server in a subprocess, an SSE reader),
database.py (the test database from outside Django: its URL, the web server on it, a TCP proxy a test can cut),
concurrency.py (several fresh processes doing the same thing at once),
pgcluster.py (throwaway PostgreSQL clusters: crash, restart, a primary with a streaming standby, failover).
"""
