"""A workflow of @task functions run by a real worker: the fan-in reads its
dependencies' results from its context and returns their sum."""

import pytest

from tasks.models import Task
from tasks.queue.workflows import call, fan_in
from tests import pytasks
from tests.support.processes import wait_for


@pytest.mark.slow
def test_results_flow_from_dependencies_to_their_dependent(start_worker):
    workflow = fan_in([call(pytasks.add, 1, 2), call(pytasks.add, 30, 40)], call(pytasks.total_of_dependencies))
    workflow.enqueue()
    last = list(workflow.nodes.values())[-1]
    start_worker("--concurrency", "2")
    wait_for(lambda: Task.objects.get(pk=last.id).status == "completed", timeout=60, message="the fan-in")
    assert Task.objects.get(pk=last.id).result == 73
    assert pytasks.total_of_dependencies.get_result(str(last.id)).return_value == 73
