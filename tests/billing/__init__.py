"""A test app as a Django team writes one: its tasks live in `billing/jobs/invoices.py`,
not in a `tasks` module, and no setting names them. Workers must still run them
(tests/test_django_tasks_contract.py)."""
