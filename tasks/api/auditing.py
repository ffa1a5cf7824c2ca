"""The REST API's operator actions in the audit log, beside the dashboard's and the admin's.

Every state-changing action other than creating tasks (retry, cancel, pause, resume,
purge, dead letters, queue settings, workflows and batches) writes one entry after
the change: who (the key's user, and the key's prefix and name in the details), what,
and how many rows. Creating tasks is not audited: it is the API's hot path, and each
task's own row already records it.
"""

from tasks.api.authentication import Credential
from tasks.models.audit import Source, record


def audited(request, action: str, target: str, count: int, **details) -> None:
    """Record an action that `request` just performed."""
    credential = getattr(request, "auth", None)
    if isinstance(credential, Credential):
        details["key"] = f"{credential.prefix} ({credential.name})"
    if request.query_params:
        details.setdefault("filter", request.query_params.urlencode())
    record(request.user, action, target, count, source=Source.API, details=details)
