"""The fault-injection suite's parts: a throwaway PostgreSQL cluster, the
processes under test, the audit of every task id, and the scenarios."""
