"""Token authentication that remembers each token's user for a few seconds.

DRF's TokenAuthentication reads the token and its user from PostgreSQL on
every request: one query of every API call. This class keeps what it read in
the web process for QUEUE_API_TOKEN_CACHE seconds (0: not at all), so a busy
client costs one lookup per process per interval. What that changes:

- A deleted token, or a user made inactive (or staff, or no longer staff), is
  seen at once by the process where the change was saved (signals below drop
  its entries) and within QUEUE_API_TOKEN_CACHE seconds by every other web
  process and machine.
- Unknown tokens are never remembered: a token created a moment ago works at once.

The request's user is the remembered object, shared by concurrent requests of
the same token: views read it, none writes it.
"""

import time
from threading import Lock

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from tasks import conf

MAX_ENTRIES = 10_000  # tokens remembered per process; past it, the oldest entries go

_entries: dict[str, tuple[float, tuple]] = {}  # key -> (monotonic expiry, (user, token))
_lock = Lock()


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        ttl = conf.get("API_TOKEN_CACHE")
        now = time.monotonic()
        found = _entries.get(key)
        if found is not None and found[0] > now:
            return found[1]
        result = super().authenticate_credentials(key)  # raises for unknown keys and inactive users
        if ttl > 0:
            with _lock:
                if len(_entries) >= MAX_ENTRIES:
                    for stale in list(_entries)[: MAX_ENTRIES // 10]:  # dicts keep insertion order
                        _entries.pop(stale, None)
                _entries[key] = (now + ttl, result)
        return result


def forget(*, key: str | None = None, user_id: int | None = None) -> None:
    """Drop what this process remembers of a token, of a user's tokens, or (no argument) of all."""
    with _lock:
        if key is None and user_id is None:
            _entries.clear()
            return
        for cached, (_, (user, _token)) in list(_entries.items()):
            if cached == key or user.pk == user_id:
                _entries.pop(cached, None)


def _token_deleted(sender, instance, **kwargs) -> None:
    forget(key=instance.key)


def _user_changed(sender, instance, **kwargs) -> None:
    forget(user_id=instance.pk)


post_delete.connect(_token_deleted, sender=Token, dispatch_uid="tasks.api.authentication.token")
post_save.connect(_user_changed, sender=get_user_model(), dispatch_uid="tasks.api.authentication.user_saved")
post_delete.connect(_user_changed, sender=get_user_model(), dispatch_uid="tasks.api.authentication.user_deleted")
