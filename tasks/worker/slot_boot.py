"""Imported once by the fork server that starts slot processes: Django is set
up there, so each slot forks ready to run instead of importing everything again."""

import django

django.setup(set_prefix=False)

from tasks.worker.slot import die_with_parent  # noqa: E402 - after setup: it imports the models

# The fork server outlives a SIGKILLed supervisor while its slots live; this
# ends it, and them, with the supervisor (see die_with_parent).
die_with_parent()
