"""Imported once by the fork server that starts slot processes: Django is set
up there, so each slot forks ready to run instead of importing everything again."""

import django

django.setup(set_prefix=False)

import tasks.execution  # noqa: E402,F401
