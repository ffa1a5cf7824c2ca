"""A module that says when it is imported (a file TASKQUEUE_TEST_LOG + ".imported"):
workers may import a @task's module only when a producer's registry recorded it,
never because a row's type string looks like a path."""

import os

from django.tasks import task

if path := os.environ.get("TASKQUEUE_TEST_LOG"):
    with open(path + ".imported", "a") as marker:
        marker.write(f"{os.getpid()}\n")


@task
def sprung() -> str:
    return "imported and run"
