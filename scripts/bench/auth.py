"""What authenticating an API request costs: a key remembered by the web process,
and a key looked up (one SELECT by prefix and a SHA-512), next to a legacy DRF
token (issue 20). In process, through the authentication class the API uses."""

import time

from scripts.bench.util import median, say

CALLS = {True: 20_000, False: 300}  # remembered calls are microseconds; lookups about a millisecond


def _per_call_us(credential: str, remembered: bool) -> float:
    from django.conf import settings
    from django.test import RequestFactory

    from tasks.api import authentication

    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "API_TOKEN_CACHE": 5.0 if remembered else 0.0}
    authentication.forget()
    auth = authentication.ApiKeyAuthentication()
    request = RequestFactory().get("/api/tasks", HTTP_AUTHORIZATION=f"Token {credential}")
    auth.authenticate(request)  # the first lookup (and last_used) out of the timing
    started = time.perf_counter()
    for _ in range(CALLS[remembered]):
        auth.authenticate(request)
    return (time.perf_counter() - started) / CALLS[remembered] * 1e6


def measure(runs: int) -> dict:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from tasks.access import Scope
    from tasks.models import ApiKey

    user, _ = get_user_model().objects.get_or_create(username="bench-auth")
    credentials = {"API key": ApiKey.objects.issue(user, "bench", [Scope.READ])[1],
                   "legacy DRF token": Token.objects.get_or_create(user=user)[0].key}
    result = {}
    for name, credential in credentials.items():
        result[name] = {
            "remembered_us": median([_per_call_us(credential, True) for _ in range(runs)]),
            "lookup_us": median([_per_call_us(credential, False) for _ in range(runs)]),
        }
        say(f"  {name}: remembered {result[name]['remembered_us']:.1f} us, "
            f"looked up {result[name]['lookup_us']:,.0f} us per request")
    return result
