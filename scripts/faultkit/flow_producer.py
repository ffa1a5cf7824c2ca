#!/usr/bin/env python
"""The producer of the workflow scenario: one DAG of `--nodes` flowstep tasks
(layers of 20, each node after 3 of the layer before) and one batch of
`--batch` tasks with its three callbacks, all committed before it exits.

Writes "committed <id>" for every node, batch task and the callbacks that must
run (on_success, on_complete) to --out, as producer.py does, and the ids of
the batch and of on_failure (which must end cancelled) to --out + ".ids".
"""

import argparse
import json
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "queueproject.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--nodes", type=int, required=True)
    parser.add_argument("--batch", type=int, required=True)
    args = parser.parse_args()

    import django

    django.setup()
    import tests.handlers  # noqa: F401 - registers flowstep
    from tasks.queue.batches import Batch
    from tasks.queue.workflows import Workflow, call

    def step(sleep):
        return call("flowstep", {"sleep": sleep}, options={"max_retries": 10})

    rng = random.Random(17)
    workflow = Workflow("faults")
    layers = [[workflow.add(step(0.02)) for _ in range(20)]]
    while sum(map(len, layers)) < args.nodes:
        layers.append([workflow.add(step(0.02), deps=rng.sample(layers[-1], 3)) for _ in range(20)])
    workflow.enqueue()
    batch = Batch("faults", on_success=step(0), on_failure=step(0), on_complete=step(0))
    ids = [node.id for node in workflow.nodes.values()]
    for start in range(0, args.batch, 1000):
        ids += [task.id for task in batch.add(*[step(0.005) for _ in range(min(1000, args.batch - start))])]
    batch.close()
    ids += [batch.row.on_success, batch.row.on_complete]
    Path(args.out).write_text("".join(f"committed {task_id}\n" for task_id in ids))
    Path(args.out + ".ids").write_text(json.dumps({"batch": str(batch.id), "on_failure": str(batch.row.on_failure),
                                                   "workflow": str(workflow.row.id)}))


if __name__ == "__main__":
    main()
